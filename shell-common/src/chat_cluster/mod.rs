//! [`ClusterLink`]: a chat node's part in a cluster (issue 17), the same for both shells. The
//! core's [`ClusterNode`] decides; this module moves its commands to the Redis worker
//! ([`worker`]), the worker's reports back to it, the hub's room events to it and its
//! deliveries to the hub, and prints its notices on stderr.
//!
//! The worker reports from its own threads through a channel and then calls the shell's wake
//! (the mio loop's waker; the std shell's room dispatch), as the password pool does.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use ferry_core::chat::cluster::{
    ClusterCommand, ClusterConfig, ClusterNode, ClusterReport, NodeId,
};
use ferry_core::chat::ChatHub;

mod worker;

/// How the worker wakes the shell after queueing a report.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// One node's link to the cluster.
pub struct ClusterLink {
    node: ClusterNode,
    commands: Sender<ClusterCommand>,
    reports: Receiver<ClusterReport>,
}

impl ClusterLink {
    /// Draws a node id and starts the worker for the Redis at `url`; the first connect is
    /// under way when this returns (its failure is not an error: the node serves its own
    /// clients and retries).
    pub fn start(
        url: &str,
        ttl: Duration,
        history: usize,
        wake: Wake,
    ) -> Result<ClusterLink, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--cluster: {e}"))?;
        let node = NodeId(OsRng.next_u64());
        let mut config = ClusterConfig::new(node);
        config.ttl = ttl;
        config.history = history;
        let (commands, to_run) = mpsc::channel();
        let (report_to, reports) = mpsc::channel();
        let reporter: worker::Reporter = Arc::new(move |report| {
            let _ = report_to.send(report);
            wake();
        });
        thread::Builder::new()
            .name("ferry-cluster".into())
            .spawn(move || worker::run(client, node, to_run, reporter))
            .map_err(|e| format!("cannot start the cluster thread: {e}"))?;
        let mut link = ClusterLink {
            node: ClusterNode::new(config, Instant::now()),
            commands,
            reports,
        };
        link.send_commands();
        Ok(link)
    }

    /// Everything between the hub and the cluster by `now`: reports in, the hub's room events
    /// out, deliveries to the hub, due timers, commands to the worker, notices to stderr.
    pub fn serve(&mut self, hub: &mut ChatHub, now: Instant) {
        while let Ok(report) = self.reports.try_recv() {
            self.node.handle_report(now, report);
        }
        if self.node.poll_timeout().is_some_and(|due| due <= now) {
            self.node.handle_timeout(now);
        }
        // A delivery may make the hub hand out more (a granted claim joins its client), and a
        // claim may be answered at once (while Redis is out of reach): until both are quiet.
        loop {
            let mut moved = false;
            while let Some(event) = hub.poll_shared() {
                self.node.publish(now, event);
                moved = true;
            }
            while let Some(claim) = hub.poll_name_claim() {
                self.node.claim(now, claim);
                moved = true;
            }
            while let Some(delivery) = self.node.poll_delivery() {
                hub.deliver_remote(now, delivery);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        while let Some(notice) = self.node.poll_notice() {
            eprintln!("ferry: {notice}");
        }
        self.send_commands();
    }

    /// When [`ClusterLink::serve`] must run next at the latest.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }

    fn send_commands(&mut self) {
        while let Some(command) = self.node.poll_command() {
            // The worker only stops when this link is dropped.
            let _ = self.commands.send(command);
        }
    }
}
