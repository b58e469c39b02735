"""Settings and composition root of the archive function."""

from functools import cache

from round0.consumer import DeadLetterQueue
from round0.erasures import ErasedInterviews
from round0.failures import TransientFailure
from round0.http import Timeouts
from round0.pacing import DynamoSlots, Pacer, Rate
from round0.secrets import ParsedValue, secret_value
from round0.settings import FunctionSettings, load_settings, setting
from round0_archive.api import Round0Api, configured_key
from round0_archive.audio import AudioAllowlist, AudioLimits, AudioSource
from round0_archive.bucket import DEFAULT_PART_SIZE, MIN_PART_SIZE, ArchiveBucket, StorageClass
from round0_archive.service import Archiver

ROUND0_API = "https://rz-app-omega.vercel.app/api/v1"
ROUND0_STORAGE_HOST = "storage.round0.io"


class ArchiveSettings(FunctionSettings):
    archive_bucket_name: str
    events_table_name: str  # where an erasure marks an interview erased
    # ArchiveStorageClass: what every archived object is written in
    archive_storage_class: StorageClass
    round0_api_requests_per_minute: float = setting(default=100, gt=0)
    dead_letter_queue_url: str
    round0_api_key_secret_id: str
    round0_api_base_url: str = ROUND0_API
    audio_host_allowlist: str = ROUND0_STORAGE_HOST
    audio_max_bytes: int = setting(default=500 * 1024 * 1024, gt=0)
    audio_part_size_bytes: int = setting(default=DEFAULT_PART_SIZE, ge=MIN_PART_SIZE)
    audio_connect_timeout_seconds: float = setting(default=3.0, gt=0)
    audio_read_timeout_seconds: float = setting(default=30.0, gt=0)
    api_connect_timeout_seconds: float = setting(default=3.0, gt=0)
    api_read_timeout_seconds: float = setting(default=15.0, gt=0)
    secret_max_age_seconds: int = 300


@cache
def archiver() -> Archiver:
    config = load_settings(ArchiveSettings)
    api_key = ParsedValue(
        secret_value(config.round0_api_key_secret_id, max_age=config.secret_max_age_seconds),
        configured_key,
        unavailable=lambda: TransientFailure("api_key_unavailable"),
    )
    return Archiver(
        api=Round0Api(
            config.round0_api_base_url,
            api_key,
            Timeouts(config.api_connect_timeout_seconds, config.api_read_timeout_seconds),
            pacer=Pacer(
                "round0-api",
                Rate(config.round0_api_requests_per_minute, 60),
                DynamoSlots(config.events_table_name),
            ),
        ),
        audio=AudioSource(
            AudioAllowlist(config.audio_host_allowlist),
            AudioLimits(
                max_bytes=config.audio_max_bytes,
                timeouts=Timeouts(
                    config.audio_connect_timeout_seconds, config.audio_read_timeout_seconds
                ),
                # a stalled read may take a whole read timeout before the check runs
                time_margin_seconds=config.audio_read_timeout_seconds + 5,
            ),
        ),
        bucket=ArchiveBucket(
            config.archive_bucket_name,
            part_size=config.audio_part_size_bytes,
            storage_class=config.archive_storage_class,
        ),
        erasures=ErasedInterviews(config.events_table_name),
    )


@cache
def dead_letters() -> DeadLetterQueue:
    return DeadLetterQueue(load_settings(ArchiveSettings).dead_letter_queue_url)
