//! What an observer may ask of the engine. The GUI holds it as `Arc<dyn BrokerControl>`, so
//! its views can be tested against a stand-in and the embedded broker alike.

/// Commands from the inspector to the broker. None of them waits on the network.
pub trait BrokerControl: Send + Sync {
    /// Disconnects a client (close reason "Kicked"); false if it is not connected.
    fn kick(&self, client_id: u64) -> bool;
    /// Turns copying of message samples into the feed on or off.
    fn set_sampling(&self, on: bool);
    fn sampling(&self) -> bool;
    /// Turns request/reply latency tracking on or off.
    fn set_latency_tracking(&self, on: bool);
    fn latency_tracking(&self) -> bool;
}
