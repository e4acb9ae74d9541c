"""The tenant service's settings (environment, prefix MAIS_)."""

from __future__ import annotations

from mais_runtime.settings import ServiceSettings


class TenantSettings(ServiceSettings):
    """Secrets come from the environment the stack launcher prepares; the rest has sane defaults."""

    # Signs admin tokens (HS256). Empty: an ephemeral key per process (tokens die with it) and a warning.
    token_signing_key: str = ""
    token_ttl_seconds: int = 8 * 3600
    # "id:base64key[,id:base64key...]", newest first (AES-256-GCM for tenant secrets).
    secret_keys: str = ""
    # The bootstrap platform admin, ensured at start when both are set.
    admin_email: str = ""
    admin_password: str = ""
    # argon2id cost (the argon2 RFC's second recommendation by default; tests may lower it).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Sign-in limiting (ADR 0014): failures per window for one (account, client address) pair...
    signin_max_failures: int = 5
    signin_window_seconds: int = 900
    # ... for one client address across accounts (not for an account's own known addresses) ...
    signin_address_max_failures: int = 50
    # ... and for one account from anywhere, after which each failure doubles the wait up to a cap.
    signin_account_max_failures: int = 10
    signin_account_window_seconds: int = 24 * 3600
    signin_backoff_base_seconds: int = 60
    signin_backoff_max_seconds: int = 3600
    # How long an invitation's set-password link works.
    invite_ttl_seconds: int = 7 * 24 * 3600
    # How long a rotated-out public key keeps working by default, and the most a caller may ask.
    key_grace_seconds: int = 24 * 3600
    key_grace_max_seconds: int = 7 * 24 * 3600
    # Password resets: how long a token lives, and how many mails one address gets per hour at most.
    reset_token_ttl_seconds: int = 3600
    reset_mails_per_hour: int = 3
    # Where the reset link points: MAIS_PUBLIC_URL (the admin app's page takes ?token=).
    public_url: str = "http://127.0.0.1:8080"
