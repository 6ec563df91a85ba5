"""All warehouse models, imported in one place so the metadata is complete (Alembic, tests, the loader)."""

from schema.audit import AuditLog, AuditPrune
from schema.base import Base
from schema.budget import BgtAdj, BgtInfo, GovExec, PayPlan, SpeFund, SpeFundAlloc
from schema.classification import Classification, CodeSet
from schema.derived import (
    ExecRollup,
    FactCell,
    Payee,
    PayeeChange,
    PayeeRegion,
    PaymentChange,
    PaymentText,
    Rollup,
    ScopeRollup,
)
from schema.feedback import CallbackReceipt, ChannelState, DeadLetter, Inquiry, InquiryStep, Outbox
from schema.loading import LoadRun, LoadTableReport, Quarantine
from schema.monitor import MonitorRun, Warning, WarningObject, WarningStep, WhitelistEntry, WorkCalendar
from schema.org import Account, Agency, MofDep, MofDiv, Project, RegionClosure
from schema.payment import PayDetail, PayVoucher
from schema.risk import ExtRisk
from schema.sync import SyncState

# Feed tables in load order: a table comes after every table its rows must reference.
FEED_MODELS = (
    MofDiv,
    MofDep,
    Agency,
    Account,
    SpeFund,
    Project,
    SpeFundAlloc,
    BgtInfo,
    BgtAdj,
    PayPlan,
    PayVoucher,
    PayDetail,
    GovExec,
    ExtRisk,
)

metadata = Base.metadata

__all__ = [
    "Base",
    "metadata",
    "FEED_MODELS",
    "MofDiv",
    "RegionClosure",
    "MofDep",
    "Agency",
    "Project",
    "Account",
    "SpeFund",
    "SpeFundAlloc",
    "BgtInfo",
    "BgtAdj",
    "PayPlan",
    "GovExec",
    "PayVoucher",
    "PayDetail",
    "ExtRisk",
    "LoadRun",
    "LoadTableReport",
    "Quarantine",
    "Classification",
    "CodeSet",
    "FactCell",
    "Rollup",
    "ScopeRollup",
    "ExecRollup",
    "PaymentText",
    "Payee",
    "PayeeRegion",
    "AuditLog",
    "AuditPrune",
    "Warning",
    "WarningObject",
    "WarningStep",
    "WhitelistEntry",
    "MonitorRun",
    "WorkCalendar",
    "SyncState",
    "PaymentChange",
    "PayeeChange",
    "Inquiry",
    "InquiryStep",
    "Outbox",
    "DeadLetter",
    "ChannelState",
    "CallbackReceipt",
]
