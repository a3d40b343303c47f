//! `ferry-shell`: the OS-facing steps both binaries (`ferry` and `ferry-std`) take the same way,
//! so neither shell writes them twice: reading the command line and the environment, loading the
//! static folder, opening the store, binding sockets, raising the fd limit, and reporting
//! failures as one line; the chat client's terminal loop and the file client, which both run the
//! same way; the file server's file-system side and its password checks (on a bounded pool of threads
//! any service may reuse), `ferry passwd`; and what the kernel says about a TCP peer's
//! progress.
//! Protocol decisions stay in `ferry-core`; the message store in
//! `ferry-storage`.

pub mod chat_accounts;
pub mod chat_client;
pub mod chat_cluster;
pub mod file_client;
pub mod files;
pub mod lookup;
pub mod passwd;
pub mod passwords;
pub mod pool;
pub mod startup;
pub mod static_folder;
pub mod stream;
pub mod tcp_progress;
pub mod tls;
pub mod wait;

pub use chat_client::run_chat_client;
pub use startup::{
    bind_tcp, bind_udp, close_store, command_line, exit_code, load_site, open_store,
    raise_fd_limit, resolve, Store,
};
pub use static_folder::{read_static_folder, StaticFolderError};
