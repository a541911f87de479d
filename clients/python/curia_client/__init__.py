"""Curia platform client: deposit evidence digests with a platform key, wait for and save
receipts, and verify them offline through the independent verifier (curia_verify).

    from curia_client import Client
    c = Client("http://127.0.0.1:28000", "platform.key", genesis="genesis.json")
    d = c.deposit_file("contract.pdf", "application/pdf", "contract", "order-1234")
    r = c.wait_receipt(d.deposit_id, timeout=60)
    c.save_receipt(r, "contract.receipt.json")
    assert c.verify("contract.pdf", "contract.receipt.json").valid

See docs/platform-guide.md for when to deposit what, and docs/api.md for the HTTP API.
"""

from .client import Client, check_deposit_id, check_media_type, check_text
from .errors import *  # noqa: F401,F403 - the exception classes are part of the API
from .errors import ERROR_CLASSES, ApiError, CuriaError, error_for
from .keys import SigningKey, read_key_file
from .types import (BatchDeposit, BatchDepositPayload, BatchItem, Deposit, DepositPayload, DepositStatus, NodeStatus,
                    Receipt, SubmitResult, Transaction, TxBody, VerifyCheck, VerifyResult)
from .verify import chain_id_from_genesis, load_verifier, verify_files

__version__ = "0.1.0"
