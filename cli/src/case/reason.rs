//! The reason each item of `curia case verify` passes or fails: shared by the decision
//! (`verify.rs`) and the report (`report.rs`), so neither imports the other for it.

use serde::Serialize;

/// Why an item passed or failed. Each item gets exactly one; `detail` says more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Reason {
    /// The file matches a deposit attached to the case, and the receipt verifies.
    Ok,
    /// A submitted receipt, or a same-named attached deposit, holds another digest than the file.
    FileChanged,
    /// The file's digest, or its receipt's deposit, is on the chain but not attached to the case.
    NotInCase,
    /// A submitted receipt names a deposit the node does not have.
    UnknownDeposit,
    /// A submitted receipt is for another chain than the judge's genesis founds.
    OtherChain,
    /// No deposit holds the file's digest and no receipt came with it.
    NoDeposit,
    /// A deposit attached to the case has no file, or a receipt came without its file.
    MissingFile,
    /// A submitted receipt cannot be read.
    BadReceipt,
    /// A receipt fails a check other than the digest and the chain (edited or forged).
    InvalidReceipt,
}

impl Reason {
    /// Every reason, in the order the report explains them.
    pub(super) const ALL: [Reason; 9] = [
        Reason::Ok,
        Reason::FileChanged,
        Reason::NotInCase,
        Reason::UnknownDeposit,
        Reason::OtherChain,
        Reason::NoDeposit,
        Reason::MissingFile,
        Reason::BadReceipt,
        Reason::InvalidReceipt,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::FileChanged => "file_changed",
            Reason::NotInCase => "not_in_case",
            Reason::UnknownDeposit => "unknown_deposit",
            Reason::OtherChain => "other_chain",
            Reason::NoDeposit => "no_deposit",
            Reason::MissingFile => "missing_file",
            Reason::BadReceipt => "bad_receipt",
            Reason::InvalidReceipt => "invalid_receipt",
        }
    }
    pub(super) fn meaning(self) -> &'static str {
        match self {
            Reason::Ok => {
                "the file matches a deposit attached to the case, and its receipt verifies against the genesis"
            }
            Reason::FileChanged => {
                "the file's fingerprint differs from the deposited one: the file was changed, or it is another file"
            }
            Reason::NotInCase => "the file (or its receipt's deposit) is on the chain, but not attached to this case",
            Reason::UnknownDeposit => "the submitted receipt names a deposit this chain's node does not have",
            Reason::OtherChain => "the submitted receipt comes from another chain than the court's genesis founds",
            Reason::NoDeposit => "no deposit on the chain holds this file, and no receipt came with it",
            Reason::MissingFile => {
                "a deposit attached to the case (or a submitted receipt) has no file in the evidence folder"
            }
            Reason::BadReceipt => "the submitted receipt file cannot be read as a Curia receipt",
            Reason::InvalidReceipt => "the receipt fails a check (edited or forged receipt, or a bad certificate)",
        }
    }
}
