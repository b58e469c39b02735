"""Settings of the sweeper (its delivery is the ingest path's: `round0.wiring`)."""

from round0.settings import FunctionSettings


class SweeperSettings(FunctionSettings):
    # older than the claim lease, so a delivery still in flight is left alone
    sweep_after_seconds: int = 120
    sweep_batch_size: int = 100
    # the dead-letter queues' retention: an older dead letter is gone from SQS
    dead_letter_retention_days: int = 14
