//! Datagram protocol between the web app and the socket server.
