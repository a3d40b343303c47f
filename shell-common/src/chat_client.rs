//! `chat-client`'s I/O loop, the same for both binaries: std threads move typed lines, server
//! bytes and Ctrl-C to one loop that drives the core's [`ChatClient`] and prints what it says.
//!
//! Owns the terminal, the socket and the threads. What to send, what to print, when to ask for a
//! name or a password and when the session ends are the core machine's decisions.
//!
//! At a terminal the line being typed is the core's [`LineEditor`], not the terminal driver's:
//! the terminal is put in non-canonical mode without echo (termios, through `libc`; signals
//! stay on, so Ctrl-C still interrupts) and keys go to the editor, so a message that arrives
//! mid-line is printed above it and the line drawn again below, intact; a password is typed
//! into a hidden line. This is also why passwords are not read with `rpassword`: that crate
//! reads the terminal itself, which would race the thread already reading it. Piped input is
//! read line by line as before. Names are coloured only when stdout is a terminal and
//! `NO_COLOR` is unset.
//!
//! With several servers (issue 17) the loop connects where the core's failover says
//! ([`ClientEvent::Connect`]) and reports how that went; which server, when, and when to give
//! up are the core's. At start the servers are tried once each, in order, and the first that
//! answers is used. Each connection has a number, so bytes and an end of file still coming
//! from a connection already replaced are ignored.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use ferry_cli::{ChatClientOptions, ServerAddress};
use ferry_core::chat::client::editor::{EditorEvent, LineEditor};
use ferry_core::chat::{ChatClient, ClientEnd, ClientEvent};
use ferry_core::tls::{Alpn, TlsClientConfig};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::stream::Stream;

/// Connects to the chat server of `options` and chats until the user leaves or the server goes
/// away. Returns the process's exit code: 0 when the user left, 1 otherwise.
pub fn run_chat_client(program: &str, options: &ChatClientOptions) -> ExitCode {
    match chat(options) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("{program}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What the loop is woken by.
enum Input {
    Line(String),
    /// Keys typed at a terminal, for the line editor.
    Keys(Vec<u8>),
    /// End of input: Ctrl-D, or the end of piped lines.
    StdinEnded,
    /// Ctrl-C or SIGTERM.
    Interrupt,
    /// Bytes from the connection with this number.
    Server(u64, Vec<u8>),
    /// The connection with this number ended.
    ServerClosed(u64),
}

fn chat(options: &ChatClientOptions) -> Result<u8, String> {
    let servers = options.servers();
    let tls = crate::tls::client_config(&options.tls, Alpn::None)?;
    let (sender, inputs) = mpsc::channel();
    // A certificate that does not verify ends here, with one line: never a retry in the clear.
    let mut failures = Vec::new();
    let mut link = None;
    for (index, server) in servers.iter().enumerate() {
        match open(server, tls.as_ref(), CONNECT_TIMEOUT) {
            Ok(stream) => {
                link = Some((index, stream));
                break;
            }
            Err(e) => failures.push(format!("{server}: {e}")),
        }
    }
    let Some((first, stream)) = link else {
        let failures = failures.join("; ");
        return Err(format!("cannot connect to the chat server at {failures}"));
    };
    let link = Link {
        stream,
        number: 0,
        servers,
        tls,
        inputs: sender.clone(),
    };
    link.read()?;
    let terminal = if io::stdin().is_terminal() {
        RawTerminal::start()
    } else {
        None
    };
    if terminal.is_some() {
        spawn("chat-keys", read_keys(sender.clone()))?;
    } else {
        spawn("chat-stdin", read_stdin(sender.clone()))?;
    }
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot watch signals: {e}"))?;
    let interrupts = sender;
    spawn("chat-signals", move || {
        if signals.forever().next().is_some() {
            let _ = interrupts.send(Input::Interrupt);
        }
    })?;
    let username = options.username.as_deref();
    let client = if io::stdin().is_terminal() {
        ChatClient::new(Instant::now(), username)
    } else {
        ChatClient::scripted(Instant::now(), username)
    };
    let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let screen = Screen {
        editor: terminal.map(|terminal| (terminal, LineEditor::default())),
        prompt: String::new(),
    };
    let labels = link.servers.iter().map(ToString::to_string).collect();
    let client = client.with_colour(colour).with_servers(labels, first);
    Ok(drive(client, link, &inputs, screen))
}

/// Feeds inputs to the machine, sends and prints what it says, until the session ends.
fn drive(
    mut client: ChatClient,
    mut link: Link,
    inputs: &Receiver<Input>,
    mut screen: Screen,
) -> u8 {
    let mut out = Vec::new();
    let stdout = io::stdout();
    'session: loop {
        client.poll_transmit(&mut out);
        if !out.is_empty() {
            // A failed write means the connection is gone, which the reader thread reports
            // too, after any lines still to read: the server's last word (why it closed)
            // must reach the client before the end does.
            let _ = link.stream.write_all(&out);
            out.clear();
        }
        while let Some(event) = client.poll_event() {
            let mut stdout = stdout.lock();
            match event {
                ClientEvent::Print(line) => screen.print(&mut stdout, &line),
                ClientEvent::Prompt(text) => screen.prompt(&mut stdout, text, false),
                ClientEvent::AskPassword(text) => screen.prompt(&mut stdout, text, true),
                ClientEvent::Connect { server, timeout } => {
                    let _ = stdout.flush();
                    match link.reconnect(server, timeout) {
                        Ok(()) => client.handle_connected(Instant::now()),
                        Err(e) => client.handle_connect_failed(Instant::now(), &e),
                    }
                    // The claim on the new connection goes out before anything else waits.
                    continue 'session;
                }
                ClientEvent::Ended(end) => {
                    // The terminal's own settings come back before the process exits.
                    drop(screen.editor.take());
                    let _ = stdout.flush();
                    if end == ClientEnd::Left {
                        close_gracefully(&link.stream, inputs);
                    }
                    let _ = link.stream.shutdown(Shutdown::Both);
                    return end.exit_code();
                }
            }
            let _ = stdout.flush();
        }
        let now = Instant::now();
        let input = match client.poll_timeout() {
            Some(deadline) if deadline <= now => {
                client.handle_timeout(now);
                continue;
            }
            Some(deadline) => match inputs.recv_timeout(deadline - now) {
                Ok(input) => input,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Input::Interrupt,
            },
            None => inputs.recv().unwrap_or(Input::Interrupt),
        };
        let now = Instant::now();
        match input {
            Input::Line(line) => client.handle_line(now, &line),
            Input::Keys(keys) => {
                let Some((_, editor)) = screen.editor.as_mut() else {
                    continue;
                };
                let events = editor.receive(&keys);
                let mut stdout = stdout.lock();
                for event in events {
                    match event {
                        EditorEvent::Line(line) => {
                            // The line stays on screen as typed; the next one starts below.
                            let _ = writeln!(stdout);
                            screen.prompt.clear();
                            client.handle_line(now, &line);
                        }
                        EditorEvent::EndOfInput => client.handle_end_of_input(now),
                    }
                }
                screen.redraw(&mut stdout);
            }
            Input::StdinEnded => client.handle_end_of_input(now),
            Input::Interrupt => client.handle_interrupt(),
            Input::Server(number, bytes) if number == link.number => client.receive(&bytes),
            Input::ServerClosed(number) if number == link.number => client.receive_eof(now),
            Input::Server(..) | Input::ServerClosed(_) => {}
        }
    }
}

/// The connection to the server, and what it takes to open another.
struct Link {
    stream: Stream,
    /// Counts the connections made, so what an old one still delivers is told apart.
    number: u64,
    servers: Vec<ServerAddress>,
    tls: Option<TlsClientConfig>,
    inputs: Sender<Input>,
}

impl Link {
    /// Replaces the connection with one to `servers[server]`; the error as a short text.
    fn reconnect(&mut self, server: usize, timeout: Duration) -> Result<(), String> {
        let _ = self.stream.shutdown(Shutdown::Both);
        let address = self
            .servers
            .get(server)
            .ok_or_else(|| "no such server".to_string())?;
        self.stream = open(address, self.tls.as_ref(), timeout).map_err(|e| e.to_string())?;
        self.number += 1;
        self.read()
    }

    /// Starts the thread that reads the current connection.
    fn read(&self) -> Result<(), String> {
        let reader = self
            .stream
            .try_clone()
            .map_err(|e| format!("chat connection: {e}"))?;
        spawn(
            "chat-socket",
            read_server(reader, self.number, self.inputs.clone()),
        )
    }
}

/// What the terminal shows below the printed lines: the prompt and the line being typed.
struct Screen {
    /// At a terminal: its settings (restored when dropped) and the line being typed.
    editor: Option<(RawTerminal, LineEditor)>,
    /// The prompt shown before the line, until a line is entered.
    prompt: String,
}

impl Screen {
    /// Prints `line` above the line being typed, which is drawn again below it.
    fn print(&self, out: &mut impl Write, line: &str) {
        match &self.editor {
            Some(_) => {
                let _ = writeln!(out, "\r\x1b[K{line}");
                self.redraw(out);
            }
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }

    /// Shows `text` as the prompt of the next line, hidden for a password.
    fn prompt(&mut self, out: &mut impl Write, text: String, hidden: bool) {
        self.prompt = text;
        match &mut self.editor {
            Some((_, editor)) => {
                if hidden {
                    editor.hide_next_line();
                }
                self.redraw(out);
            }
            None => {
                let _ = write!(out, "{}", self.prompt);
            }
        }
    }

    fn redraw(&self, out: &mut impl Write) {
        if let Some((_, editor)) = &self.editor {
            let _ = write!(out, "{}", editor.render(&self.prompt));
            let _ = out.flush();
        }
    }
}

/// The terminal in non-canonical mode without echo, for the line editor; its own settings
/// come back when dropped.
struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    /// `None` when the settings cannot be changed (the client then reads lines as a script's).
    fn start() -> Option<RawTerminal> {
        // SAFETY: termios is plain data; tcgetattr fills it from fd 0, checked below.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is open (stdin) and `saved` is a valid termios to write into.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        // Keys arrive one by one and undrawn; ISIG stays, so Ctrl-C is still a SIGINT.
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ECHONL);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: as above; `raw` is a copy of the terminal's own settings.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return None;
        }
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same fd in `start`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}

/// Says the client is done sending and waits, up to [`CLOSE_WAIT`], for the server to close:
/// closing at once could reset the connection while the last messages are still unread by the
/// server, and the kernel would drop them.
fn close_gracefully(stream: &Stream, inputs: &Receiver<Input>) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + CLOSE_WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match inputs.recv_timeout(left) {
            Ok(Input::ServerClosed(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A connection to `server`, over TLS when `tls` is given.
fn open(
    server: &ServerAddress,
    tls: Option<&TlsClientConfig>,
    timeout: Duration,
) -> io::Result<Stream> {
    let tcp = connect(&server.host, server.port, timeout)?;
    // Each typed line should leave at once.
    let _ = tcp.set_nodelay(true);
    Stream::connect(tcp, &server.host, tls)
}

fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

fn read_server(mut stream: Stream, number: u64, inputs: Sender<Input>) -> impl FnOnce() {
    move || {
        let mut buf = vec![0; READ_BUFFER];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if inputs
                        .send(Input::Server(number, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = inputs.send(Input::ServerClosed(number));
    }
}

fn read_keys(inputs: Sender<Input>) -> impl FnOnce() {
    move || {
        let mut stdin = io::stdin();
        let mut buf = [0u8; KEY_BUFFER];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if inputs.send(Input::Keys(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = inputs.send(Input::StdinEnded);
    }
}

fn read_stdin(inputs: Sender<Input>) -> impl FnOnce() {
    move || {
        let stdin = io::stdin();
        let mut stdin = stdin.lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    if inputs.send(Input::Line(text)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = inputs.send(Input::StdinEnded);
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), String> {
    thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(|_| ())
        .map_err(|e| format!("cannot start a thread: {e}"))
}

/// How long a leaving client waits for the server to close after it said it is done.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// A server that does not answer the first connection attempt in this long is taken as
/// unreachable (the core sets the timeout of later attempts).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of keys read at once: a paste arrives in a few reads.
const KEY_BUFFER: usize = 4096;
/// Bytes read from the server per call: many chat lines, or one long one.
const READ_BUFFER: usize = 16 * 1024;
