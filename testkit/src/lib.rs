//! `ferry-testkit`: the integration suite of ferry, written once and run against every shell.
//!
//! Each suite module ([`pages`], [`connection`], [`malformed`], [`adversarial`], [`slow`],
//! [`flood`], [`post`], [`datagram`], [`tcp`], [`faults`], [`retry`], [`disk`], [`mongo`],
//! [`chat`], [`files`], [`tls`], [`process`]) holds plain functions `fn(bin: &str)`, one per
//! behaviour
//! of the SPEC. A shell runs them all with one line in its `tests/` folder:
//!
//! ```ignore
//! ferry_testkit::suite!(env!("CARGO_BIN_EXE_ferry-std"));
//! ```
//!
//! Every test starts its own server from that binary on `127.0.0.1:0` in a scratch folder of
//! its own ([`server`], [`temp`], [`fixture`]), learns the addresses from the listening lines,
//! and talks over real sockets with read timeouts ([`client`]), so a hang fails instead of
//! blocking. Nothing here sleeps to wait for something it could wait on; the only polls (a
//! child's exit, a store written without an acknowledgement) have deadlines.
//!
//! This crate never links the server's code: it knows the binary only by its command line,
//! its sockets and its files, as a user would.

pub mod adversarial;
pub mod chat;
pub use chat::cluster;
pub mod check;
mod child;
pub mod client;
pub mod connection;
pub mod datagram;
pub mod disk;
pub mod faults;
pub mod files;
pub mod fixture;
pub mod flood;
pub mod form;
pub mod malformed;
pub mod mongo;
pub mod pages;
pub mod post;
mod proc_status;
pub mod process;
mod relay;
pub mod retry;
pub mod server;
pub mod slow;
pub mod store;
pub mod tcp;
pub mod temp;
pub mod tls;
pub mod websocket;

/// Expands to one `#[test]` per suite function, each running it against the binary `$bin`.
///
/// The tests sit in one module per suite module (`pages::head_matches_get_without_a_body`), so
/// `cargo test -p <shell> pages::` runs one group.
#[macro_export]
macro_rules! suite {
    ($bin:expr) => {
        const FERRY_SUITE_BIN: &str = $bin;
        $crate::suite_tests! {
            pages: [
                pages_are_served_as_utf8_html,
                static_files_have_their_content_types,
                unknown_paths_are_404_with_the_error_page,
                head_matches_get_without_a_body,
                known_method_on_a_known_path_is_405_with_allow,
                unknown_method_is_501,
                shipped_pages_have_the_form_and_assets,
                answers_say_how_long_they_may_be_kept,
            ],
            connection: [
                keep_alive_serves_several_requests_on_one_connection,
                pipelined_requests_are_answered_in_order,
                pipelined_post_keeps_its_place,
                http10_connection_is_closed_after_the_response,
                http10_keep_alive_is_kept_open,
                connection_close_is_honoured,
                header_timeout_answers_408_and_closes,
                idle_keep_alive_connection_is_closed,
            ],
            malformed: [
                malformed_requests_are_answered_and_closed,
                head_sent_byte_by_byte_is_parsed,
            ],
            adversarial: [
                hostile_requests_get_their_answers,
            ],
            slow: [
                slowloris_heads_are_closed_at_the_header_timeout,
                slow_bodies_are_closed_at_the_body_timeout,
                dripped_requests_end_at_the_request_timeout,
                slow_readers_are_closed_at_the_write_timeout,
                connections_beyond_the_limit_are_refused_with_503,
                running_out_of_descriptors_pauses_accepting,
            ],
            flood: [
                udp_flood_with_garbage_keeps_every_acknowledged_message,
                sigterm_under_load_loses_no_answered_message,
            ],
            post: [
                post_stores_the_message_then_redirects,
                awkward_characters_round_trip_urlencoded,
                multipart_form_is_accepted,
                chunked_post_is_stored,
                expect_continue_gets_100_before_the_body,
                bad_forms_are_400_and_store_nothing,
                body_over_max_body_is_413,
                message_too_big_for_a_datagram_is_413,
                concurrent_posts_are_each_stored_once,
                existing_store_file_is_kept_and_appended,
                empty_or_missing_store_file_is_created,
            ],
            disk: [
                a_full_disk_refuses_messages_and_keeps_the_file_valid,
            ],
            datagram: [
                http_and_socket_run_as_separate_processes,
                absent_socket_server_gives_503,
                web_app_retransmits_until_acknowledged,
                socket_server_acknowledges_stored_messages_once_per_id,
                socket_server_stores_messages_without_id_unacknowledged,
                socket_server_ignores_malformed_datagrams,
            ],
            faults: [
                lossy_relay_loses_nothing_and_stores_nothing_twice,
                killed_socket_server_keeps_every_acknowledged_message,
                killed_tcp_socket_server_keeps_every_acknowledged_message,
                two_web_apps_share_one_socket_server,
                second_socket_server_on_the_same_file_refuses,
                largest_datagrams_never_stop_the_socket_server,
            ],
            chat: [
                three_clients_exchange_messages,
                newcomer_gets_history,
                a_client_that_never_reads_does_not_delay_the_others,
                five_hundred_clients_each_receive_all_others,
                interactive_client_in_a_pseudo_terminal,
                piped_lines_reach_the_room_before_the_client_leaves,
                chat_clients_beyond_the_limit_get_an_error_line,
                chat_clients_that_reset_leave_nothing_behind,
                a_client_that_has_not_joined_hears_nothing_live,
                a_closing_client_gets_its_error_line_after_its_backlog,
                an_idle_client_gets_its_error_line_after_its_backlog,
                sigterm_goodbye_reaches_a_client_behind_on_reading,
                ten_thousand_clients_claim_names_in_bounded_time_and_memory,
                accounts_register_then_login_elsewhere_then_speak,
                a_wrong_password_and_an_unknown_name_get_the_same_error,
                a_guest_cannot_take_a_registered_name,
                accounts_and_history_survive_a_restart_and_a_kill,
                concurrent_registrations_of_one_name_have_one_winner,
                a_flooding_client_is_refused_without_slowing_others,
                hostile_account_objects_get_error_lines,
                logins_one_after_another_hold_bounded_memory,
                terminal_client_registers_without_echoing_the_password,
                terminal_client_keeps_the_line_being_typed,
                a_login_storm_does_not_delay_the_room,
                chat_client_fails_over_when_its_server_is_killed,
                chat_client_logs_in_again_after_a_restart_without_repeating_history,
                chat_client_does_not_fail_over_a_deliberate_disconnect,
                chat_client_refuses_a_malformed_server_address,
            ],
            websocket: [
                websocket_and_tcp_clients_share_the_room,
                hostile_websocket_frames_are_closed_with_their_codes,
                websocket_handshake_errors_and_a_silent_handshake,
                websocket_clients_hear_the_goodbye_at_sigterm,
                a_websocket_that_never_reads_is_disconnected,
            ],
            files: [
                files_carry_validators_and_freshness,
                get_head_put_round_trip,
                folders_ranges_and_conditional_requests,
                traversal_attempts_leave_no_trace_outside_the_root,
                large_files_stream_in_bounded_memory,
                curl_upload_does_not_wait_for_continue,
                refused_uploads_are_answered_before_the_body,
                hostile_requests_get_their_answers_from_the_file_server,
                a_download_nobody_reads_is_dropped_at_the_write_timeout,
                every_request_is_logged_once,
                client_transfers_and_exit_codes,
                renaming_a_folder_to_a_symlink_never_escapes_the_root,
                a_symlink_out_answers_the_same_whether_or_not_its_target_exists,
                temporary_files_are_never_served_and_are_removed_at_start,
                names_up_to_255_bytes_upload,
                a_full_disk_is_507_and_leaves_nothing_behind,
                sigterm_finishes_an_upload_in_flight,
                folders_without_a_trailing_slash_redirect,
                a_slow_steady_reader_gets_the_whole_file,
                curl_with_a_rate_limit_gets_the_whole_file,
                an_abandoned_download_is_logged_with_the_bytes_sent,
                folders_are_listed_as_html_and_json,
                hostile_names_are_escaped_in_listings,
                listings_sort_by_name_size_and_time,
                wget_mirrors_the_whole_tree,
                health_check_answers_ok_on_every_http_service,
                delete_and_new_folders_stay_inside_the_root,
                auth_guards_writes_and_reads,
                failed_sign_ins_are_slowed_per_address,
                anonymous_writes_need_loopback_or_the_flag,
            ],
            process: [
                startup_errors_are_one_line_and_nonzero,
                a_failed_start_leaves_no_store_folder,
                help_documents_every_flag_and_exits_zero,
                wrong_arguments_are_one_line_and_nonzero,
                sigterm_exits_zero_and_keeps_the_data,
                sigint_exits_zero_and_keeps_the_data,
                restart_keeps_the_data_and_appends,
                no_subcommand_means_serve,
                flags_fall_back_to_environment_variables,
                curl_posts_a_message,
            ],
            retry: [
                a_message_sent_again_after_a_503_is_stored_once,
            ],
            tls: [
                web_app_over_tls_serves_pages_and_stores_posts,
                file_server_over_tls_downloads_uploads_and_ranges,
                chat_over_tls_with_openssl_and_the_chat_client,
                chat_web_over_tls_serves_https_and_wss,
                plain_broken_and_silent_clients_on_a_tls_port_are_closed_in_time,
                sighup_reloads_the_certificate_under_load_losing_no_request,
                bad_certificates_at_start_are_one_line_and_exit_1,
                large_download_over_tls_stays_in_bounded_memory,
            ],
            tcp: [
                serve_over_tcp_stores_then_redirects,
                http_and_socket_over_tcp_as_separate_processes,
                tcp_socket_server_acks_lines_once_per_id,
                web_app_survives_a_socket_server_restart_over_tcp,
            ],
            cluster: [
                cluster_delivers_across_nodes_once_in_order,
                cluster_history_is_the_same_from_every_node,
                cluster_name_taken_on_one_node_is_refused_on_another,
                cluster_killed_node_clients_leave_elsewhere_once,
                cluster_same_name_at_once_on_two_nodes_has_one_winner,
                cluster_name_of_a_killed_node_is_free_after_the_ttl,
                cluster_names_are_given_locally_while_redis_is_down,
                cluster_redis_restart_loses_and_repeats_nothing,
            ],
        }
        // A test that did not run must not read as passed: without a MongoDB server these are
        // listed as ignored; `.ci/run` starts one and runs them with `-- --ignored mongo::`.
        $crate::suite_tests! {
            #[ignore = "needs FERRY_TEST_MONGODB"]
            mongo: [
                post_lands_as_a_document_of_the_spec_shape,
                five_hundred_concurrent_posts_give_five_hundred_documents,
                killed_mongodb_server_keeps_every_acknowledged_post,
                killed_mongodb_server_over_tcp_keeps_every_acknowledged_post,
                http_and_socket_as_separate_processes_store_in_mongodb,
                chat_accounts_and_history_live_in_mongodb,
                two_chat_servers_on_one_database_register_a_name_once,
            ],
        }
    };
}

/// The body of [`suite!`]: one module per group, one `#[test]` per name, each calling
/// `$crate::<group>::<name>(FERRY_SUITE_BIN)`; an `#[ignore = "..."]` before the groups marks
/// every test in them. Not meant to be called directly.
#[doc(hidden)]
#[macro_export]
macro_rules! suite_tests {
    (#[ignore = $reason:literal] $($group:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $group {
                $(
                    #[test]
                    #[ignore = $reason]
                    fn $test() {
                        $crate::$group::$test(super::FERRY_SUITE_BIN);
                    }
                )*
            }
        )*
    };
    ($($group:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $group {
                $(
                    #[test]
                    fn $test() {
                        let _turn = $crate::turn(stringify!($test));
                        $crate::$group::$test(super::FERRY_SUITE_BIN);
                    }
                )*
            }
        )*
    };
}

/// Tests that assert a latency bound while loading the server: each runs alone in its test
/// binary, since the tests beside it would share the two cores a CI machine may have and make
/// the bound measure them instead of the server.
const TIMED_TESTS: &[&str] = &[
    "ten_thousand_clients_claim_names_in_bounded_time_and_memory",
    "a_login_storm_does_not_delay_the_room",
];

static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's turn to run: alone for a timed test, beside the others for the rest.
pub enum Turn {
    Shared {
        _held: std::sync::RwLockReadGuard<'static, ()>,
    },
    Alone {
        _held: std::sync::RwLockWriteGuard<'static, ()>,
    },
}

/// Waits for the turn of the test named `test` (a panicking test poisons nothing that matters:
/// the lock guards no data).
pub fn turn(test: &str) -> Turn {
    if TIMED_TESTS.contains(&test) {
        Turn::Alone {
            _held: TURNS.write().unwrap_or_else(|e| e.into_inner()),
        }
    } else {
        Turn::Shared {
            _held: TURNS.read().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

#[cfg(test)]
mod turn_tests {
    /// A renamed timed test would silently run beside the others again.
    #[test]
    fn every_timed_test_exists() {
        let sources = [
            include_str!("chat/crowd.rs"),
            include_str!("chat/accounts.rs"),
        ];
        for test in super::TIMED_TESTS {
            let definition = format!("pub fn {test}(");
            assert!(
                sources.iter().any(|source| source.contains(&definition)),
                "{test} is not defined where timed tests live"
            );
        }
    }
}
