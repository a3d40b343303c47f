//! [`LineEditor`]: the line being typed at a terminal, kept by the client rather than by the
//! terminal driver, so a message arriving mid-line can be printed above it and the line drawn
//! again below, intact (issue 14).
//!
//! Keys come in as bytes (the shell puts the terminal in non-canonical mode without echo);
//! what to draw comes out as text. Enter (CR or LF) ends a line, Backspace (DEL or BS) takes
//! back a character, Ctrl-U clears the line, Ctrl-D on an empty line ends the input; escape
//! sequences (arrow keys) and other control characters are ignored. A hidden line (a password)
//! is kept but never drawn. Bounded: a line stops growing at the server's line limit.

use super::super::MAX_LINE;

/// The line being typed.
#[derive(Debug, Default)]
pub struct LineEditor {
    line: String,
    /// Bytes of a UTF-8 character not complete yet.
    partial: Vec<u8>,
    /// Inside an escape sequence.
    escape: Escape,
    /// Not drawn: a password.
    hidden: bool,
}

/// What a run of keys did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorEvent {
    /// Enter: this line is done.
    Line(String),
    /// Ctrl-D on an empty line.
    EndOfInput,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Started,
    /// After ESC `[`: until a final byte (`@` to `~`).
    Sequence,
}

impl LineEditor {
    /// Keys typed; returns the lines they ended (and the end of input), in order.
    pub fn receive(&mut self, keys: &[u8]) -> Vec<EditorEvent> {
        let mut events = Vec::new();
        for &byte in keys {
            match self.escape {
                Escape::Started => {
                    self.escape = if byte == b'[' {
                        Escape::Sequence
                    } else {
                        Escape::None
                    };
                    continue;
                }
                Escape::Sequence => {
                    if (0x40..=0x7e).contains(&byte) {
                        self.escape = Escape::None;
                    }
                    continue;
                }
                Escape::None => {}
            }
            match byte {
                b'\r' | b'\n' => {
                    self.partial.clear();
                    self.hidden = false;
                    events.push(EditorEvent::Line(std::mem::take(&mut self.line)));
                }
                0x7f | 0x08 => {
                    self.partial.clear();
                    self.line.pop();
                }
                0x15 => {
                    self.partial.clear();
                    self.line.clear();
                }
                0x04 if self.line.is_empty() => events.push(EditorEvent::EndOfInput),
                0x1b => self.escape = Escape::Started,
                byte if byte < 0x20 => {}
                byte => self.push(byte),
            }
        }
        events
    }

    /// The next line is a password: typed, kept, never drawn.
    pub fn hide_next_line(&mut self) {
        self.hidden = true;
    }

    /// What to draw on the terminal's current line: a return, a clear to its end, then
    /// `prompt` and the line so far (unless hidden).
    pub fn render(&self, prompt: &str) -> String {
        let shown = if self.hidden { "" } else { self.line.as_str() };
        format!("\r\x1b[K{prompt}{shown}")
    }

    fn push(&mut self, byte: u8) {
        self.partial.push(byte);
        match std::str::from_utf8(&self.partial) {
            Ok(text) => {
                if self.line.len() + text.len() <= MAX_LINE {
                    self.line.push_str(text);
                }
                self.partial.clear();
            }
            // A character's first bytes: wait for the rest (at most four bytes in all).
            Err(error) if error.error_len().is_none() && self.partial.len() < 4 => {}
            Err(_) => self.partial.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_edit_the_line_and_enter_ends_it() {
        let mut editor = LineEditor::default();
        assert_eq!(editor.receive(b"helo\x7flo w\xc3"), []);
        assert_eq!(editor.render("> "), "\r\x1b[K> hello w");
        assert_eq!(
            editor.receive(b"\xa9\x1b[Drld\r"),
            [EditorEvent::Line("hello w\u{e9}rld".into())]
        );
        assert_eq!(
            editor.receive(b"abc\x15x\n\x04"),
            [EditorEvent::Line("x".into()), EditorEvent::EndOfInput]
        );
        editor.hide_next_line();
        editor.receive(b"secret");
        assert_eq!(editor.render("password: "), "\r\x1b[Kpassword: ");
        assert_eq!(editor.receive(b"\r"), [EditorEvent::Line("secret".into())]);
    }

    proptest! {
        #[test]
        fn any_keys_keep_a_bounded_line_and_split_anywhere_alike(
            keys in prop::collection::vec(any::<u8>(), 0..300),
            split in 0usize..300,
        ) {
            let mut whole = LineEditor::default();
            let all = whole.receive(&keys);
            let mut parts = LineEditor::default();
            let split = split.min(keys.len());
            let mut events = parts.receive(&keys[..split]);
            events.extend(parts.receive(&keys[split..]));
            prop_assert_eq!(all, events);
            prop_assert_eq!(whole.render(""), parts.render(""));
            prop_assert!(whole.line.len() <= MAX_LINE);
        }
    }
}
