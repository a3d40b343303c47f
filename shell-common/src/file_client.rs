//! `ferry client`, the same for both binaries: one blocking connection to a file server, one
//! request, the answer saved, uploaded from or printed.
//!
//! Owns the socket, the local files and the terminal. The request head, the reading of the
//! response, the name a download is saved under and every line printed come from `ferry-core`
//! ([`ferry_core::files::client`], [`ferry_core::http::ResponseReader`]).

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferry_cli::FileClientOptions;
use ferry_core::files::client::ClientMethod;
use ferry_core::files::client::{
    head_lines, is_success, progress_line, request_head, saved_line, status_error, uploaded_line,
    PROGRESS_INTERVAL, PROGRESS_THRESHOLD,
};
use ferry_core::files::download_name;
use ferry_core::http::{ResponseEvent, ResponseHead, ResponseReader};
use ferry_core::tls::Alpn;

use crate::stream::Stream;

/// Runs one request of `options`; exit code 0 for a 2xx answer, 1 for anything else (with a
/// line on stderr).
pub fn run_file_client(program: &str, options: &FileClientOptions) -> ExitCode {
    match transfer(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{program}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn transfer(options: &FileClientOptions) -> Result<(), String> {
    let target = format!("{}:{}", options.host, options.port);
    let tls = crate::tls::client_config(&options.tls, Alpn::Http11)?;
    // A certificate that does not verify ends here, with one line: never a retry in the clear.
    let mut stream = connect(&options.host, options.port)
        .and_then(|tcp| Stream::connect(tcp, &options.host, tls.as_ref()))
        .map_err(|e| format!("cannot connect to the file server at {target}: {e}"))?;
    let context = |e: io::Error| format!("connection to {target}: {e}");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(context)?;
    match options.method {
        ClientMethod::Get => get(options, &mut stream),
        ClientMethod::Head => {
            stream
                .write_all(&request_head(
                    options.method,
                    &options.path,
                    &options.host,
                    options.port,
                    None,
                ))
                .map_err(context)?;
            let mut connection = Connection::new(stream, true);
            let head = connection.head().map_err(context)?;
            print!("{}", head_lines(&head));
            check(&head)
        }
        ClientMethod::Put => put(options, stream),
    }
}

fn get(options: &FileClientOptions, stream: &mut Stream) -> Result<(), String> {
    let out = match &options.out {
        Some(out) => out.clone(),
        None => PathBuf::from(download_name(&options.path).ok_or_else(|| {
            format!(
                "'{}' names no file to save; give one with --out",
                options.path
            )
        })?),
    };
    let head = request_head(
        options.method,
        &options.path,
        &options.host,
        options.port,
        None,
    );
    stream
        .write_all(&head)
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut connection = Connection::new(
        stream.try_clone().map_err(|e| format!("connection: {e}"))?,
        false,
    );
    let head = connection
        .head()
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    check(&head)?;
    let total = head
        .header("content-length")
        .and_then(|value| value.parse().ok());
    // Written beside the destination and renamed once complete, so a cut download never
    // leaves a truncated file under the real name.
    let partial = partial_name(&out);
    let mut file = File::create(&partial)
        .map_err(|e| format!("cannot create '{}': {e}", partial.display()))?;
    let mut progress = Progress::new(total);
    let result = connection.copy_body(&mut file, &mut progress);
    progress.finish();
    let written = match result.and_then(|n| file.sync_all().map(|()| n)) {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(format!("download failed: {e}"));
        }
    };
    fs::rename(&partial, &out).map_err(|e| format!("cannot save '{}': {e}", out.display()))?;
    println!("{}", saved_line(&out.display().to_string(), written));
    Ok(())
}

fn put(options: &FileClientOptions, mut stream: Stream) -> Result<(), String> {
    let local = match &options.file {
        Some(file) => file.clone(),
        None => PathBuf::from(download_name(&options.path).ok_or_else(|| {
            format!(
                "'{}' names no file to upload; give one with --file",
                options.path
            )
        })?),
    };
    let mut file =
        File::open(&local).map_err(|e| format!("cannot open '{}': {e}", local.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read '{}': {e}", local.display()))?
        .len();
    let head = request_head(
        options.method,
        &options.path,
        &options.host,
        options.port,
        Some(len),
    );
    stream
        .write_all(&head)
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let reader = stream.try_clone().map_err(|e| format!("connection: {e}"))?;
    let mut connection = Connection::new(reader, false);
    // Wait for 100 Continue, or an early refusal, but not forever: a server that ignores
    // Expect gets the body after a moment, as RFC 9110 §10.1.1 lets clients do.
    let early = connection
        .interim(CONTINUE_WAIT)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    if let Some(head) = early {
        return check(&head);
    }
    let mut progress = Progress::new(Some(len));
    let mut sent = 0;
    while sent < len {
        // Pieces of the file, each copied kernel-side where the platform allows it.
        let piece = (len - sent).min(UPLOAD_PIECE);
        let copied = io::copy(&mut (&mut file).take(piece), &mut stream);
        match copied {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) => {
                progress.finish();
                // The server may have answered (and closed) before taking it all.
                return match connection.head() {
                    Ok(head) => check(&head),
                    Err(_) => Err(format!("upload failed: {e}")),
                };
            }
        }
        progress.update(sent);
    }
    progress.finish();
    let head = connection
        .head()
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    check(&head)?;
    println!("{}", uploaded_line(&options.path, sent, &head));
    Ok(())
}

/// The error for an answer other than 2xx.
fn check(head: &ResponseHead) -> Result<(), String> {
    if is_success(head) {
        Ok(())
    } else {
        Err(status_error(head))
    }
}

/// The reading side of the connection, through the core's response reader.
struct Connection {
    stream: Stream,
    reader: ResponseReader,
    buf: Vec<u8>,
    /// Body bytes read along with the head, not yet taken.
    body: Vec<u8>,
    head: Option<ResponseHead>,
    ended: bool,
}

impl Connection {
    fn new(stream: Stream, head_request: bool) -> Connection {
        Connection {
            stream,
            reader: ResponseReader::new(head_request),
            buf: vec![0; READ_BUFFER],
            body: Vec::new(),
            head: None,
            ended: false,
        }
    }

    /// Reads until the final head, or until `wait` passes; `None` means the server asked for
    /// the body (100 Continue) or said nothing in time.
    fn interim(&mut self, wait: Duration) -> io::Result<Option<ResponseHead>> {
        self.stream.set_read_timeout(Some(wait))?;
        let result = loop {
            if let Some(head) = self.head.take() {
                break Ok(Some(head));
            }
            match self.read_once() {
                Ok(true) => break Ok(None),
                Ok(false) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Ok(None)
                }
                Err(e) => break Err(e),
            }
        };
        self.stream.set_read_timeout(Some(READ_TIMEOUT))?;
        result
    }

    /// Reads until the final response head.
    fn head(&mut self) -> io::Result<ResponseHead> {
        loop {
            if let Some(head) = self.head.take() {
                return Ok(head);
            }
            self.read_once()?;
        }
    }

    /// Copies the body into `out`; returns its length.
    fn copy_body(&mut self, out: &mut impl Write, progress: &mut Progress) -> io::Result<u64> {
        let mut written = 0u64;
        loop {
            if !self.body.is_empty() {
                out.write_all(&self.body)?;
                written += self.body.len() as u64;
                self.body.clear();
                progress.update(written);
            }
            if self.ended {
                return Ok(written);
            }
            self.read_once()?;
        }
    }

    /// One read, fed to the reader; true when it reported `100 Continue`.
    fn read_once(&mut self) -> io::Result<bool> {
        let n = loop {
            match self.stream.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let fed = if n == 0 {
            self.reader.receive_eof()
        } else {
            self.reader.receive(&self.buf[..n], &mut self.body)
        };
        fed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let mut continued = false;
        while let Some(event) = self.reader.poll_event() {
            match event {
                ResponseEvent::Continue => continued = true,
                ResponseEvent::Head(head) => self.head = Some(head),
                ResponseEvent::End => self.ended = true,
            }
        }
        if n == 0 && !self.ended {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(continued)
    }
}

/// The progress bar on stderr, drawn only on a terminal and for large transfers.
struct Progress {
    total: u64,
    shown: bool,
    enabled: bool,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    fn new(total: Option<u64>) -> Progress {
        let total = total.unwrap_or(0);
        Progress {
            total,
            shown: false,
            enabled: total > PROGRESS_THRESHOLD && io::stderr().is_terminal(),
            started: Instant::now(),
            drawn: None,
        }
    }

    fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .drawn
            .is_some_and(|last| now.duration_since(last) < PROGRESS_INTERVAL)
            && done < self.total
        {
            return;
        }
        self.drawn = Some(now);
        self.shown = true;
        let line = progress_line(done, self.total, now.duration_since(self.started));
        let _ = io::stderr().write_all(line.as_bytes());
    }

    fn finish(&mut self) {
        if self.shown {
            let _ = io::stderr().write_all(b"\n");
            self.shown = false;
        }
    }
}

/// Where a download is written until it is complete.
fn partial_name(out: &std::path::Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// A server that does not answer a connection within 10 s is taken to be unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A transfer that stalls for a minute is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an upload waits for `100 Continue` before sending the body anyway.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);
/// Bytes read from the socket per call.
const READ_BUFFER: usize = 64 * 1024;
/// Uploads go out in 4 MiB pieces, so the progress bar moves while each piece is sent by the
/// kernel.
const UPLOAD_PIECE: u64 = 4 * 1024 * 1024;
