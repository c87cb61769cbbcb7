//! Calls: SIP dialogs and their media joined into call records.
//!
//! [`CallTable`] owns every call of a run. It takes SIP messages in capture
//! order (time is a parameter: no clock is read here), follows each INVITE
//! dialog through its transactions, learns both sides' media endpoints from
//! SDP offer/answer, and ends calls on BYE, a final failure, or at the end of
//! the run. [`CallTable::finish`] ties RTP streams to calls and directions and
//! turns each call into a [`CallRecord`].
//!
//! Non-INVITE traffic (REGISTER, OPTIONS, SUBSCRIBE/NOTIFY, MESSAGE, ...) is
//! counted by method and response in [`SipCounters`], never turned into calls.

pub mod correlator;
pub mod dialog;
pub mod record;
pub mod signal_log;
pub mod subscriber;
pub mod table;
pub mod volte;

pub use correlator::{Correlator, CorrelatorCounters, SubscriberReport};
pub use dialog::{Call, Side};
pub use record::{CallRecord, Direction, Outcome};
pub use table::{CallTable, CallTableConfig, SipCounters};
pub use volte::{VolteLegs, VolteMetrics, VolteState};
