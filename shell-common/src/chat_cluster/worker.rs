//! The Redis side of the cluster, on threads of its own: one thread carries out the machine's
//! commands over a command connection; each connect starts a subscriber thread on a second
//! connection (a subscribed connection takes no other commands). Both report through the
//! callback the link gives them, which queues the report and wakes the shell's loop. Nothing
//! here decides: a failure is reported as `Lost` and the machine says when to try again.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ferry_core::chat::cluster::{ClusterCommand, ClusterReport, NodeId};
use redis::{Client, Connection, RedisResult, Value};

/// How a worker thread reports: queue the report and wake the loop.
pub type Reporter = Arc<dyn Fn(ClusterReport) + Send + Sync>;

/// Runs commands until the link is dropped (its sender closes).
pub fn run(client: Client, node: NodeId, commands: Receiver<ClusterCommand>, report: Reporter) {
    let mut worker = Worker {
        client,
        node,
        report,
        connection: None,
        script: String::new(),
        history: 0,
        subscriber: None,
    };
    while let Ok(command) = commands.recv() {
        worker.carry_out(command);
    }
    worker.stop_subscriber();
}

struct Worker {
    client: Client,
    node: NodeId,
    report: Reporter,
    /// The command connection of the current attempt, and the attempt.
    connection: Option<(u64, Connection)>,
    /// The publish script's SHA1, as Redis returned it when it was loaded.
    script: String,
    /// The room's `--history`: the stream keeps at least this many entries.
    history: usize,
    /// Set to stop the current subscriber thread.
    subscriber: Option<Arc<AtomicBool>>,
}

impl Worker {
    fn carry_out(&mut self, command: ClusterCommand) {
        match command {
            ClusterCommand::Connect { attempt, history } => {
                self.stop_subscriber();
                self.connection = None;
                let report = match self.connect(attempt, history) {
                    Ok(history) => ClusterReport::Synced { attempt, history },
                    Err(error) => {
                        self.stop_subscriber();
                        self.connection = None;
                        ClusterReport::Lost {
                            attempt,
                            error: error.to_string(),
                        }
                    }
                };
                (self.report)(report);
            }
            ClusterCommand::Publish {
                attempt,
                seq,
                payload,
                keep,
            } => {
                let node = self.node.to_string();
                let script = self.script.clone();
                let kept = self.history;
                let result = self.with_connection(attempt, |connection| {
                    redis::cmd("EVALSHA")
                        .arg(&script)
                        .arg(3)
                        .arg(format!("{PUBLISHED_PREFIX}{node}"))
                        .arg(STREAM)
                        .arg(CHANNEL)
                        .arg(seq)
                        .arg(&payload[..])
                        .arg(u8::from(keep))
                        .arg(kept)
                        .arg(PUBLISHED_SEQ_KEPT.as_secs())
                        .exec(connection)
                });
                if let Some(result) = result {
                    self.answer(attempt, result, ClusterReport::Published { attempt, seq });
                }
            }
            ClusterCommand::Beat { attempt, payload } => {
                let result = self.with_connection(attempt, |connection| {
                    redis::cmd("PUBLISH")
                        .arg(CHANNEL)
                        .arg(&payload[..])
                        .exec(connection)
                });
                if let Some(Err(error)) = result {
                    self.lost(attempt, &error);
                }
            }
            ClusterCommand::Claim {
                attempt,
                token,
                key,
                ttl,
            } => {
                let node = self.node.to_string();
                let result = self.with_connection(attempt, |connection| {
                    redis::cmd("EVAL")
                        .arg(CLAIM_SCRIPT)
                        .arg(1)
                        .arg(format!("{NAME_PREFIX}{key}"))
                        .arg(node)
                        .arg(millis(ttl))
                        .query::<i64>(connection)
                });
                match result {
                    Some(Ok(granted)) => (self.report)(ClusterReport::Claimed {
                        attempt,
                        token,
                        key,
                        granted: granted == 1,
                    }),
                    Some(Err(error)) => self.lost(attempt, &error),
                    None => {}
                }
            }
            ClusterCommand::Refresh { attempt, keys, ttl } => {
                let node = self.node.to_string();
                let result = self.with_connection(attempt, |connection| {
                    let mut command = redis::cmd("EVAL");
                    command.arg(REFRESH_SCRIPT).arg(keys.len());
                    for key in &keys {
                        command.arg(format!("{NAME_PREFIX}{key}"));
                    }
                    command.arg(node).arg(millis(ttl)).exec(connection)
                });
                if let Some(Err(error)) = result {
                    self.lost(attempt, &error);
                }
            }
            ClusterCommand::Release { attempt, key } => {
                let node = self.node.to_string();
                let result = self.with_connection(attempt, |connection| {
                    redis::cmd("EVAL")
                        .arg(RELEASE_SCRIPT)
                        .arg(1)
                        .arg(format!("{NAME_PREFIX}{key}"))
                        .arg(node)
                        .exec(connection)
                });
                if let Some(Err(error)) = result {
                    self.lost(attempt, &error);
                }
            }
        }
    }

    /// Subscribes, then reads the newest `history` entries of the stream: in that order, so
    /// nothing published in between is missed (the machine drops what it gets twice).
    fn connect(&mut self, attempt: u64, history: usize) -> RedisResult<Vec<Vec<u8>>> {
        self.history = history;
        let subscribed = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        subscribed.set_read_timeout(Some(SUBSCRIBER_POLL))?;
        subscribed.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        let stop = Arc::new(AtomicBool::new(false));
        self.subscriber = Some(stop.clone());
        let report = self.report.clone();
        let (ready, subscribed_yet) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("ferry-cluster-subscriber".into())
            .spawn(move || listen(subscribed, attempt, &ready, &stop, &report))?;
        match subscribed_yet.recv_timeout(CONNECT_TIMEOUT) {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::from(io::ErrorKind::TimedOut).into()),
        }
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        connection.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        connection.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        self.script = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(PUBLISH_SCRIPT)
            .query(&mut connection)?;
        let newest: Value = if history == 0 {
            Value::Array(Vec::new())
        } else {
            redis::cmd("XREVRANGE")
                .arg(STREAM)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(history)
                .query(&mut connection)?
        };
        self.connection = Some((attempt, connection));
        let mut payloads = stream_payloads(newest);
        payloads.reverse();
        Ok(payloads)
    }

    /// Runs `work` on the connection of `attempt`; `None` when that connection is gone (the
    /// machine has heard of it, or will, and sends the work again after the next connect).
    fn with_connection<T>(
        &mut self,
        attempt: u64,
        work: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Option<RedisResult<T>> {
        match &mut self.connection {
            Some((current, connection)) if *current == attempt => Some(work(connection)),
            _ => None,
        }
    }

    fn answer(&mut self, attempt: u64, result: RedisResult<()>, done: ClusterReport) {
        match result {
            Ok(()) => (self.report)(done),
            Err(error) => self.lost(attempt, &error),
        }
    }

    fn lost(&mut self, attempt: u64, error: &redis::RedisError) {
        self.connection = None;
        self.stop_subscriber();
        (self.report)(ClusterReport::Lost {
            attempt,
            error: error.to_string(),
        });
    }

    fn stop_subscriber(&mut self) {
        if let Some(stop) = self.subscriber.take() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The subscriber thread: subscribes and says so on `ready`, then reports each payload on the
/// channel until told to stop or the connection fails.
fn listen(
    mut connection: Connection,
    attempt: u64,
    ready: &SyncSender<RedisResult<()>>,
    stop: &AtomicBool,
    report: &Reporter,
) {
    let mut pubsub = connection.as_pubsub();
    let subscribed = pubsub.subscribe(CHANNEL);
    let failed = subscribed.is_err();
    let _ = ready.send(subscribed);
    if failed {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        match pubsub.get_message() {
            Ok(message) => report(ClusterReport::Received {
                attempt,
                payload: message.get_payload_bytes().to_vec(),
            }),
            Err(error) if error.is_timeout() => {}
            Err(error) => {
                if !stop.load(Ordering::Relaxed) {
                    report(ClusterReport::Lost {
                        attempt,
                        error: error.to_string(),
                    });
                }
                return;
            }
        }
    }
}

/// `duration` in whole milliseconds, as `PX` and `PEXPIRE` take it.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The `event` field of each entry of an XRANGE/XREVRANGE answer, in the answer's order.
fn stream_payloads(answer: Value) -> Vec<Vec<u8>> {
    let Value::Array(entries) = answer else {
        return Vec::new();
    };
    let mut payloads = Vec::new();
    for entry in entries {
        // An entry is [id, [field, value, ...]].
        let Value::Array(parts) = entry else { continue };
        let Some(Value::Array(fields)) = parts.into_iter().nth(1) else {
            continue;
        };
        let mut fields = fields.into_iter();
        while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
            if let (Value::BulkString(field), Value::BulkString(value)) = (field, value) {
                if field == b"event" {
                    payloads.push(value);
                }
            }
        }
    }
    payloads
}

/// The room's Pub/Sub channel.
pub const CHANNEL: &str = "ferry:chat:room";
/// The room's history stream.
pub const STREAM: &str = "ferry:chat:history";
/// Per node, the last sequence number published, so a publish repeated after a lost reply is
/// not published twice.
const PUBLISHED_PREFIX: &str = "ferry:chat:published:";
/// How long a node's last published number is kept: far longer than any retry.
const PUBLISHED_SEQ_KEPT: Duration = Duration::from_secs(24 * 60 * 60);
/// Publishes once per (node, seq): appends to the history stream when asked (capped at about
/// `--history` entries: `~` lets Redis trim in whole blocks, cheaply), then publishes, all in
/// one step of Redis.
const PUBLISH_SCRIPT: &str = "
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
if ARGV[3] == '1' and tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[2])
end
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1
";
/// Per name (by its compared form), the node whose client holds it, for the cluster's ttl.
const NAME_PREFIX: &str = "ferry:chat:name:";
/// Claims a name for node ARGV[1] for ARGV[2] ms unless another node holds it; a name the node
/// holds already is granted again, with a fresh ttl. 1 if granted.
const CLAIM_SCRIPT: &str = "
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";
/// Renews node ARGV[1]'s names for ARGV[2] ms: a name another node took meanwhile stays
/// theirs; one that expired (the node was slow to renew) is the node's again.
const REFRESH_SCRIPT: &str = "
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  end
end
return 0
";
/// Lets go of a name only while node ARGV[1] holds it: never of another node's.
const RELEASE_SCRIPT: &str = "
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";
/// A connect that takes longer is a failure; the machine tries again later.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A command unanswered for this long means the connection is gone.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a subscriber with nothing to read looks whether it should stop.
const SUBSCRIBER_POLL: Duration = Duration::from_millis(200);
