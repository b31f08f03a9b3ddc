//! Pull requests answered on one long-lived inbox.
//!
//! async-nats' `Consumer::batch` subscribes to a fresh inbox for every pull
//! request and unsubscribes when the batch ends. Under load a pull loop asks
//! for a few events at a time, so the server would insert and remove a
//! subscription for every few events; each insert and removal walks the
//! server's subject cache, which the per-message ack and receipt subjects keep
//! full. A [`Puller`] subscribes once and sends every pull request of its
//! consumer with that inbox as the reply subject, so a pull costs the server
//! one message and nothing else.

use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{self, Message};
use async_nats::{StatusCode, Subject, Subscriber};
use futures::StreamExt as _;
use tokio::time::{Instant, Sleep};

/// How long after a request's `expires` its end is assumed when the server's
/// answer never came (the connection was lost in between).
const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// One consumer's pull requests and the inbox they are answered on.
#[derive(Debug)]
pub(super) struct Puller {
    consumer: Consumer<pull::Config>,
    js: jetstream::Context,
    inbox: Subject,
    subscription: Subscriber,
}

/// Why a pull could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum PullError {
    /// The inbox could not be subscribed.
    #[error("cannot subscribe to the pull inbox: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    /// The request could not be sent.
    #[error(transparent)]
    Request(#[from] pull::BatchRequestError),
}

impl Puller {
    /// Subscribes to a new inbox for `consumer`'s pull requests.
    pub(super) async fn new(
        client: &async_nats::Client,
        js: jetstream::Context,
        consumer: Consumer<pull::Config>,
    ) -> Result<Self, PullError> {
        let inbox = Subject::from(client.new_inbox());
        let subscription = client.subscribe(inbox.clone()).await?;
        Ok(Self {
            consumer,
            js,
            inbox,
            subscription,
        })
    }

    /// Asks for at most `n` events, waiting at most `expires` for them.
    pub(super) async fn request(
        &mut self,
        n: usize,
        expires: Duration,
    ) -> Result<Pulled<'_>, PullError> {
        let config = pull::BatchConfig {
            batch: n,
            expires: Some(expires),
            ..Default::default()
        };
        self.consumer
            .request_batch(config, self.inbox.clone())
            .await?;
        Ok(Pulled {
            puller: self,
            pending: n,
            deadline: Box::pin(tokio::time::sleep_until(
                Instant::now() + expires + ANSWER_GRACE,
            )),
            done: false,
        })
    }
}

/// The answer to one pull request, message by message.
#[derive(Debug)]
pub(super) struct Pulled<'a> {
    puller: &'a mut Puller,
    pending: usize,
    deadline: Pin<Box<Sleep>>,
    done: bool,
}

impl Pulled<'_> {
    /// The next event of this request; `None` once the request is over (all
    /// asked for arrived, it expired, or its answer was lost); an error when
    /// the server ended it for another reason (the consumer was deleted, its
    /// leader changed).
    pub(super) async fn next(&mut self) -> Option<Result<Message, String>> {
        loop {
            if self.done || self.pending == 0 {
                return None;
            }
            let message = tokio::select! {
                m = self.puller.subscription.next() => m,
                () = &mut self.deadline => None,
            };
            let Some(message) = message else {
                self.done = true;
                return None;
            };
            match message.status {
                None | Some(StatusCode::OK) => {
                    self.pending -= 1;
                    return Some(Ok(Message {
                        message,
                        context: self.puller.js.clone(),
                    }));
                }
                Some(StatusCode::IDLE_HEARTBEAT) => {}
                Some(StatusCode::TIMEOUT | StatusCode::NOT_FOUND) => {
                    self.done = true;
                    return None;
                }
                Some(status) => {
                    self.done = true;
                    let why = message.description.unwrap_or_default();
                    return Some(Err(format!("the pull request ended: {status} {why}")));
                }
            }
        }
    }
}
