//! Every fault-injection scenario at the short scale (what CI runs): each
//! fails when its invariant breaks, and prints its figures.

use anyhow::Result;
use herald_faults::{Scale, Scenario};

async fn short(scenario: Scenario) -> Result<()> {
    for f in scenario.run(Scale::Short).await? {
        eprintln!("{}", f.table());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_sigkilled_under_load_loses_nothing() -> Result<()> {
    short(Scenario::Kill).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restarted_under_load_loses_nothing() -> Result<()> {
    short(Scenario::NatsRestart).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_recover_without_holding_up_the_healthy_one() -> Result<()> {
    short(Scenario::Receivers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_events_are_dead_lettered_and_replayed_once() -> Result<()> {
    short(Scenario::Dlq).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_leaves_nothing_unacked_or_doubled() -> Result<()> {
    short(Scenario::Shutdown).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_behind_a_slow_destination_keeps_memory_bounded() -> Result<()> {
    short(Scenario::Backlog).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_four_replicas_deliver_the_same_totals_once() -> Result<()> {
    short(Scenario::Replicas).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_losing_its_stream_leader_loses_nothing() -> Result<()> {
    short(Scenario::Cluster).await
}
