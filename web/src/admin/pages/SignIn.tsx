// The signed-out pages: sign-in, forgot password, and reset / set password (the token is in the link's
// fragment, #token=, so it never reaches a server log; it leaves the address bar once read).
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { ApiError } from "../../shared/api";
import { arrival, useAdmin } from "../context";
import { errorText, fieldError } from "../format";
import { BASE, Link } from "../router";
import { Field, PageTitle, Status } from "../ui";

function SignedOutFrame({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <main id="main" class="auth-main">
      <div class="card auth-card">
        <p class="auth-brand">MAIS admin</p>
        <PageTitle>{title}</PageTitle>
        {children}
      </div>
    </main>
  );
}

function Problem({ message }: { message: string | null }) {
  return (
    <div role="alert" class={message ? "alert" : "alert alert-empty"}>
      {message}
    </div>
  );
}

export function SignIn() {
  const { api, setMe } = useAdmin();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ email?: string | null; password?: string | null }>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const emailInput = useRef<HTMLInputElement>(null);
  const passwordInput = useRef<HTMLInputElement>(null);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    const missing = {
      email: email.trim() ? null : "Enter your email address.",
      password: password ? null : "Enter your password.",
    };
    setErrors(missing);
    setProblem(null);
    if (missing.email || missing.password) {
      (missing.email ? emailInput : passwordInput).current?.focus();
      return;
    }
    setBusy(true);
    try {
      await api.signIn(email.trim(), password);
      const me = await api.me();
      if (!me) throw new ApiError(401, "UNAUTHENTICATED", "not authenticated");
      arrival.bySignIn = true;
      setMe(me);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setProblem("That email and password do not match an admin account. Check both and try again.");
        setPassword("");
        passwordInput.current?.focus();
      } else if (error instanceof ApiError && error.code === "VALIDATION_ERROR" && error.fields.length) {
        setErrors({ email: fieldError(error, "email"), password: fieldError(error, "password") });
        setProblem("Please correct the marked fields.");
      } else {
        setProblem(errorText(error));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <SignedOutFrame title="Sign in">
      <Problem message={problem} />
      <form onSubmit={submit} noValidate>
        <Field label="Email" error={errors.email}>
          {(attrs) => (
            <input
              {...attrs}
              ref={emailInput}
              type="email"
              name="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Password" error={errors.password}>
          {(attrs) => (
            <input
              {...attrs}
              ref={passwordInput}
              type="password"
              name="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
      <p class="auth-links">
        <Link href={`${BASE}/forgot-password`}>Forgot your password?</Link>
      </p>
    </SignedOutFrame>
  );
}

export function ForgotPassword() {
  const { api } = useAdmin();
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    setProblem(null);
    setDone(null);
    if (!email.trim()) {
      setError("Enter the email address of your admin account.");
      return;
    }
    setError(null);
    setBusy(true);
    try {
      const answer = await api.forgotPassword(email.trim());
      setDone(answer.message || "If this address has an admin account, a reset link is on its way.");
    } catch (e) {
      const field = fieldError(e, "email");
      if (field) setError(field);
      else setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <SignedOutFrame title="Forgot password">
      <p>Enter the email address you sign in with. If it has an admin account, we send it a link to set a new password.</p>
      <Problem message={problem} />
      <Status message={done} />
      <form onSubmit={submit} noValidate>
        <Field label="Email" error={error}>
          {(attrs) => (
            <input {...attrs} type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
            {busy ? "Sending…" : "Send the link"}
          </button>
        </div>
      </form>
      <p class="auth-links">
        <Link href={`${BASE}/sign-in`}>Back to sign-in</Link>
      </p>
    </SignedOutFrame>
  );
}

/** The token of a reset or invitation link: `#token=...` (read once, then off the address bar). */
export function takeToken(win: Window = window): string {
  const token = new URLSearchParams(win.location.hash.replace(/^#/, "")).get("token") ?? "";
  if (win.location.hash) win.history.replaceState(win.history.state, "", win.location.pathname + win.location.search);
  return token;
}

export function ResetPassword({ mode }: { mode: "reset" | "set" }) {
  const { api } = useAdmin();
  const [token] = useState(() => takeToken());
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [errors, setErrors] = useState<{ password?: string | null; repeat?: string | null }>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const title = mode === "set" ? "Set your password" : "Choose a new password";

  if (!token) {
    return (
      <SignedOutFrame title={title}>
        <p role="alert" class="alert">
          This page needs the link from your email. Open the link again, or ask for a new one.
        </p>
        <p class="auth-links">
          <Link href={`${BASE}/forgot-password`}>Ask for a new link</Link>
        </p>
      </SignedOutFrame>
    );
  }

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    const found = {
      password:
        password.length < 10
          ? "Use at least 10 characters, with a letter and a digit or symbol."
          : !/[^\p{L}]/u.test(password) || !/\p{L}/u.test(password)
            ? "Use a letter and a digit or symbol."
            : null,
      repeat: repeat === password ? null : "The two passwords are not the same.",
    };
    setErrors(found);
    setProblem(null);
    if (found.password || found.repeat) return;
    setBusy(true);
    try {
      await api.resetPassword(token, password);
      setDone(true);
    } catch (e) {
      const field = fieldError(e, "newPassword", "new_password", "password");
      if (field) setErrors({ password: field });
      else if (fieldError(e, "token")) setProblem("This link is invalid, expired or already used. Ask for a new one.");
      else setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  if (done) {
    return (
      <SignedOutFrame title={title}>
        <p role="status" class="notice success">
          Your password is set. You can sign in with it now.
        </p>
        <p>
          <Link class="button" href={`${BASE}/sign-in`}>
            Sign in
          </Link>
        </p>
      </SignedOutFrame>
    );
  }

  return (
    <SignedOutFrame title={title}>
      <Problem message={problem} />
      <form onSubmit={submit} noValidate>
        <Field label="New password" hint="At least 10 characters, with a letter and a digit or symbol." error={errors.password}>
          {(attrs) => (
            <input {...attrs} type="password" name="new-password" autocomplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <Field label="Repeat the new password" error={errors.repeat}>
          {(attrs) => (
            <input {...attrs} type="password" name="repeat-password" autocomplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
          )}
        </Field>
        {problem && (
          <p class="auth-links">
            <Link href={`${BASE}/forgot-password`}>Ask for a new link</Link>
          </p>
        )}
        <div class="actions">
          <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
            {busy ? "Saving…" : "Save the password"}
          </button>
        </div>
      </form>
    </SignedOutFrame>
  );
}
