//! Which JetStream API failures may pass by themselves.
//!
//! A freshly formed or recovering cluster answers late or not at all while it
//! elects its meta leader and the leaders of streams and consumers, says it is
//! "temporarily unavailable" (503), or finds "no suitable peers" until every
//! node has joined. Those are worth retrying. A refusal of the request itself
//! (subjects overlapping another stream, a bad name, a stream that does not
//! exist when the worker may not create it) is not: it would fail the same way
//! every time.

use async_nats::jetstream::context::{
    ConsumerInfoError, ConsumerInfoErrorKind, CreateStreamError, CreateStreamErrorKind,
    GetStreamError, GetStreamErrorKind, KeyValueError, KeyValueErrorKind, RequestError,
    RequestErrorKind,
};
use async_nats::jetstream::stream::{ConsumerError, ConsumerErrorKind};
use async_nats::jetstream::{Error as ApiError, ErrorCode};

/// A failure that says whether retrying may help.
pub(crate) trait Transient {
    /// True when the request may succeed later without any change: it timed
    /// out, nobody answered, or the cluster said it is not ready.
    fn is_transient(&self) -> bool;
}

/// API error codes of a cluster that is not ready yet.
const NOT_READY: [ErrorCode; 9] = [
    ErrorCode::CLUSTER_INCOMPLETE,
    ErrorCode::CLUSTER_NO_PEERS,
    ErrorCode::CLUSTER_NOT_AVAILABLE,
    ErrorCode::CLUSTER_NOT_LEADER,
    ErrorCode::INSUFFICIENT_RESOURCES,
    ErrorCode::RAFT_GENERAL,
    ErrorCode::PEER_REMAP,
    ErrorCode::STREAM_OFFLINE,
    ErrorCode::CONSUMER_OFFLINE,
];

impl Transient for ApiError {
    fn is_transient(&self) -> bool {
        self.code() == 503 || NOT_READY.contains(&self.error_code())
    }
}

impl Transient for RequestError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            RequestErrorKind::TimedOut | RequestErrorKind::NoResponders => true,
            RequestErrorKind::InvalidSubject => false,
            // The request could not be sent (the connection is being
            // re-established), or the server answered with an API error.
            RequestErrorKind::Other => source_is_transient(self),
        }
    }
}

impl Transient for CreateStreamError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            CreateStreamErrorKind::JetStreamUnavailable | CreateStreamErrorKind::TimedOut => true,
            CreateStreamErrorKind::JetStream(e) => e.is_transient(),
            CreateStreamErrorKind::Response => source_is_transient(self),
            CreateStreamErrorKind::EmptyStreamName
            | CreateStreamErrorKind::InvalidStreamName
            | CreateStreamErrorKind::DomainAndExternalSet
            | CreateStreamErrorKind::NotFound
            | CreateStreamErrorKind::ResponseParse => false,
        }
    }
}

impl Transient for GetStreamError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            GetStreamErrorKind::Request => source_is_transient(self),
            GetStreamErrorKind::JetStream(e) => e.is_transient(),
            GetStreamErrorKind::EmptyName | GetStreamErrorKind::InvalidStreamName => false,
        }
    }
}

impl Transient for KeyValueError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            KeyValueErrorKind::GetBucket | KeyValueErrorKind::JetStream => {
                source_is_transient(self)
            }
            KeyValueErrorKind::InvalidStoreName => false,
        }
    }
}

impl Transient for ConsumerError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            ConsumerErrorKind::TimedOut => true,
            ConsumerErrorKind::Request => source_is_transient(self),
            ConsumerErrorKind::JetStream(e) => e.is_transient(),
            ConsumerErrorKind::InvalidConsumerType
            | ConsumerErrorKind::InvalidName
            | ConsumerErrorKind::Other => false,
        }
    }
}

impl Transient for ConsumerInfoError {
    fn is_transient(&self) -> bool {
        match self.kind() {
            ConsumerInfoErrorKind::TimedOut
            | ConsumerInfoErrorKind::NoResponders
            | ConsumerInfoErrorKind::Offline => true,
            ConsumerInfoErrorKind::Request => source_is_transient(self),
            ConsumerInfoErrorKind::JetStream(e) => e.is_transient(),
            ConsumerInfoErrorKind::InvalidName
            | ConsumerInfoErrorKind::NotFound
            | ConsumerInfoErrorKind::StreamNotFound => false,
        }
    }
}

/// Whether the error this one wraps is transient. A request that failed
/// without a known cause (it could not be sent) is taken as transient: the
/// connection reconnects by itself.
fn source_is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let Some(source) = e.source() else {
        return true;
    };
    if let Some(api) = source.downcast_ref::<ApiError>() {
        return api.is_transient();
    }
    if let Some(request) = source.downcast_ref::<RequestError>() {
        return request.is_transient();
    }
    if let Some(stream) = source.downcast_ref::<GetStreamError>() {
        return stream.is_transient();
    }
    // A publish that could not be queued, a closed connection.
    source.downcast_ref::<async_nats::PublishError>().is_some()
        || source
            .downcast_ref::<async_nats::SubscribeError>()
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: usize, err_code: u64) -> ApiError {
        serde_json::from_value(serde_json::json!({
            "code": code, "err_code": err_code, "description": "test"
        }))
        .expect("an API error")
    }

    #[test]
    fn a_cluster_that_is_not_ready_is_transient() {
        // "JetStream system temporarily unavailable".
        assert!(api(503, 10008).is_transient());
        // "no suitable peers for placement" (code 400 on nats-server 2.9).
        assert!(api(400, 10005).is_transient());
        assert!(CreateStreamError::new(CreateStreamErrorKind::TimedOut).is_transient());
        assert!(
            CreateStreamError::new(CreateStreamErrorKind::JetStream(api(503, 10008)))
                .is_transient()
        );
        assert!(ConsumerError::new(ConsumerErrorKind::TimedOut).is_transient());
        let no_responders = RequestError::new(RequestErrorKind::NoResponders);
        assert!(
            ConsumerError::with_source(ConsumerErrorKind::Request, no_responders).is_transient()
        );
    }

    #[test]
    fn a_refusal_is_not_transient() {
        // "subjects overlap with an existing stream".
        let overlap = api(400, 10065);
        assert!(!overlap.is_transient());
        assert!(!CreateStreamError::new(CreateStreamErrorKind::JetStream(overlap)).is_transient());
        // "stream not found" for a worker that may not create it.
        assert!(
            !GetStreamError::new(GetStreamErrorKind::JetStream(api(404, 10059))).is_transient()
        );
        assert!(!ConsumerError::new(ConsumerErrorKind::InvalidName).is_transient());
        assert!(!KeyValueError::new(KeyValueErrorKind::InvalidStoreName).is_transient());
    }
}
