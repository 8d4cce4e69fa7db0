//! Signing up, in and out; the caller's own account and sessions.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use s4e_client::ClientError;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson};
use s4e_store::SessionData;
use s4e_types::account::{
    AcceptInvitation, AcceptInvitationRequest, ApiKeyRef, ChangePassword, DisableTotp, Login, Me,
    NewOrganizationWithOwner, SessionSummary, SessionView, Signup, TotpCode, TotpEnrolment,
    normalize_email,
};
use s4e_types::api::{ErrorBody, List};
use s4e_types::audit::ActorKind;
use s4e_types::{NewAuditEntry, User};

use crate::audit::{self, ClientMeta};
use crate::auth::{Actor, Principal};
use crate::{AppState, password, session, totp};

fn bad_request(message: &str) -> ApiError {
    ApiError::bad_request(message)
}

/// A user's entry in the audit log for something they did before holding a session.
fn user_entry(user: &User, action: &str, outcome: StatusCode, meta: &ClientMeta) -> NewAuditEntry {
    NewAuditEntry {
        actor_kind: ActorKind::User,
        actor_id: Some(user.id.0),
        actor_label: user.email.clone(),
        actor_org_id: None,
        action: action.into(),
        resource_type: "user".into(),
        resource_id: Some(user.id.to_string()),
        outcome: outcome.as_u16(),
        ip: meta.ip.clone(),
        trace_id: None,
    }
}

/// Opens a session for `user` and answers with its cookie and view.
async fn start_session(
    state: &AppState,
    user: User,
    meta: &ClientMeta,
    status: StatusCode,
) -> Result<Response, ApiError> {
    // The tier is read once per sign-in; a change applies from the next one.
    let rate_tier = state.base.get_organization(user.org_id).await?.rate_tier;
    let (secret, id) = session::generate();
    let data = SessionData {
        rate_tier,
        asset_scope: user.asset_scope.clone(),
        user_id: user.id,
        org_id: user.org_id,
        role: user.role,
        email: user.email.clone(),
        csrf_token: session::random_hex(),
        created_at: chrono::Utc::now(),
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
    };
    state.sessions.create(&id, &data).await.map_err(|error| {
        tracing::warn!(%error, "session store unavailable");
        ApiError::unavailable("sessions are unavailable, try again")
    })?;
    let idle = state.sessions.idle();
    let view = SessionView {
        user,
        session_id: id,
        csrf_token: data.csrf_token,
        expires_at: data.created_at + chrono::Duration::from_std(idle).unwrap_or_default(),
    };
    let cookie = session::set_cookie(&secret, state.session_max_age.as_secs());
    let mut response = (status, Json(view)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Sign up
///
/// Creates an organization with its first owner and signs the owner in, when the deployment
/// allows self-service sign-up (else 403).
#[utoipa::path(post, path = "/api/v1/signup", operation_id = "signup", tag = "account",
    request_body = Signup,
    responses(
        (status = 201, description = "Signed up and in", body = SessionView, headers(("Set-Cookie" = String, description = "The session cookie `s4e_session` (HttpOnly, Secure, SameSite=Strict)"))),
        (status = 409, description = "The e-mail is already a user's", body = ErrorBody),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    meta: ClientMeta,
    PublicJson(body): PublicJson<Signup>,
) -> Result<Response, ApiError> {
    if !state.accounts.signup_enabled {
        return Err(ApiError::forbidden(
            "self-service sign-up is disabled on this deployment",
        ));
    }
    let email = normalize_email(&body.email).map_err(bad_request)?;
    if body.organization_name.trim().is_empty() || body.organization_name.chars().count() > 200 {
        return Err(bad_request("organization_name: must be 1-200 characters"));
    }
    password::check_new(&body.password, &email, "password")?;
    let password_hash = password::hash(body.password).await?;
    let created = state
        .base
        .create_organization_with_owner(&NewOrganizationWithOwner {
            organization_name: body.organization_name,
            email,
            password_hash,
            is_partner: false,
        })
        .await?;
    let owner = created.owner;
    let mut entry = user_entry(&owner, "organizations.create", StatusCode::CREATED, &meta);
    entry.resource_type = "organization".into();
    entry.resource_id = Some(owner.org_id.to_string());
    audit::write(&state, owner.org_id, entry).await;
    tracing::info!(org_id = %owner.org_id, user_id = %owner.id, "organization signed up");
    start_session(&state, owner, &meta, StatusCode::CREATED).await
}

/// Counts a login attempt against the address and the account; refuses when either is spent.
async fn throttle_login(state: &AppState, email: &str, meta: &ClientMeta) -> Result<(), ApiError> {
    let limits = &state.accounts;
    let account = format!("login:account:{email}");
    let address = meta.ip.as_ref().map(|ip| format!("login:ip:{ip}"));
    let mut buckets = vec![(account.as_str(), limits.login_attempts_per_account)];
    if let Some(address) = &address {
        buckets.push((address.as_str(), limits.login_attempts_per_ip));
    }
    match state
        .limits
        .limiter
        .hit_all(&buckets, limits.login_window)
        .await
    {
        Ok(decisions) => match decisions
            .iter()
            .filter(|decision| !decision.allowed)
            .max_by_key(|decision| decision.reset_after)
        {
            None => Ok(()),
            Some(refused) => {
                let retry_after = refused.reset_after.as_secs().max(1);
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many sign-in attempts, retry in {retry_after} s"),
                )
                .with_retry_after(Duration::from_secs(retry_after)))
            }
        },
        // Guessing passwords while the counters are away is not allowed, whatever the
        // general rate-limit policy says.
        Err(error) => {
            tracing::warn!(%error, "login throttle unavailable");
            Err(ApiError::unavailable("sign-in is unavailable, try again"))
        }
    }
}

/// Sign in with e-mail and password
///
/// With the authenticator's current code in `totp_code` when the user has a second factor.
/// Attempts are limited per account and per address (429). Send the answer's `csrf_token` as
/// `X-CSRF-Token` with every state-changing request made with the session.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "account",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = SessionView, headers(("Set-Cookie" = String, description = "The session cookie `s4e_session` (HttpOnly, Secure, SameSite=Strict)"))),
        (status = 401, description = "Wrong e-mail, password or code", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    PublicJson(body): PublicJson<Login>,
) -> Result<Response, ApiError> {
    let email = normalize_email(&body.email).map_err(bad_request)?;
    throttle_login(&state, &email, &meta).await?;
    let credentials = match state.base.credentials(&email).await {
        Ok(credentials) => Some(credentials),
        Err(ClientError::NotFound(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let matches = password::verify(body.password, stored).await?;
    let Some(credentials) = credentials else {
        return Err(ApiError::unauthorized("wrong e-mail or password"));
    };
    let user = credentials.user;
    if !matches {
        let refused = ApiError::unauthorized("wrong e-mail or password");
        return Err(refuse_login(&state, &user, &meta, refused).await);
    }
    if let Some(sealed) = &credentials.totp_secret
        && let Err(error) = second_factor(&state, &user, sealed, body.totp_code.as_deref()).await
    {
        return Err(refuse_login(&state, &user, &meta, error).await);
    }
    audit::write(
        &state,
        user.org_id,
        user_entry(&user, "sessions.login", StatusCode::OK, &meta),
    )
    .await;
    start_session(&state, user, &meta, StatusCode::OK).await
}

/// Records a refused sign-in to `user`'s account and hands the refusal back. Someone tried
/// the account; it was not necessarily its user, so the actor is anonymous.
async fn refuse_login(
    state: &AppState,
    user: &User,
    meta: &ClientMeta,
    refusal: ApiError,
) -> ApiError {
    let mut entry = user_entry(user, "sessions.login", refusal.status, meta);
    entry.actor_kind = ActorKind::Anonymous;
    entry.actor_id = None;
    audit::write(state, user.org_id, entry).await;
    refusal
}

/// Checks the code of the user's authenticator; each code is accepted once.
async fn second_factor(
    state: &AppState,
    user: &User,
    sealed: &str,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let Some(code) = code else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "totp_required",
            "this account needs the code of its authenticator app (totp_code)",
        ));
    };
    let secret = state.secrets.open(sealed).ok_or_else(|| {
        ApiError::internal(format!("the totp secret of user {} does not open", user.id))
    })?;
    let wrong = || ApiError::unauthorized("wrong authenticator code");
    let step = totp::verify(&secret, code, unix_now()).ok_or_else(wrong)?;
    let first = state
        .sessions
        .claim_once(&format!("totp:{}:{step}", user.id), TOTP_REUSE_GUARD)
        .await
        .map_err(session_store_error)?;
    if first { Ok(()) } else { Err(wrong()) }
}

/// Longer than the window of steps a code is accepted in.
const TOTP_REUSE_GUARD: Duration = Duration::from_secs(150);

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

/// Refuses a signed-in user's request that needs their password (`field`) when it is wrong.
async fn confirm_password(
    state: &AppState,
    email: &str,
    password: String,
    field: &str,
) -> Result<(), ApiError> {
    let credentials = state.base.credentials(email).await?;
    if password::verify(password, Some(credentials.password_hash)).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("{field}: wrong password")))
    }
}

/// Start enrolling a second factor
///
/// A new secret and its `otpauth://` URI for an authenticator app; active once confirmed with
/// a code. Only for a signed-in user.
#[utoipa::path(post, path = "/api/v1/me/totp", operation_id = "enrolTotp", tag = "account",
    responses(
        (status = 200, description = "The secret", body = TotpEnrolment),
        (status = 409, description = "A second factor is already active", body = ErrorBody),
    ))]
pub async fn enrol_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let (user_id, email, _) = principal.user()?;
    let secret = totp::generate_secret();
    state
        .base
        .set_pending_totp(principal.org_id, user_id, &state.secrets.seal(&secret))
        .await?;
    Ok(Json(TotpEnrolment {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(email, &secret),
    }))
}

/// Activate the second factor with a current code
///
/// Sign-in then needs `totp_code`.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", operation_id = "confirmTotp", tag = "account",
    request_body = TotpCode,
    responses(
        (status = 200, description = "Enabled", body = User),
        (status = 409, description = "No second factor is being enrolled", body = ErrorBody),
    ))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<TotpCode>,
) -> Result<Json<User>, ApiError> {
    let (user_id, email, _) = principal.user()?;
    let credentials = state.base.credentials(email).await?;
    let Some(pending) = credentials.totp_pending_secret else {
        return Err(ApiError::conflict("no second factor is being enrolled"));
    };
    let secret = state.secrets.open(&pending).ok_or_else(|| {
        ApiError::internal(format!(
            "the pending totp secret of {user_id} does not open"
        ))
    })?;
    if totp::verify(&secret, &body.code, unix_now()).is_none() {
        return Err(ApiError::bad_request("code: wrong authenticator code"));
    }
    let user = state.base.enable_totp(principal.org_id, user_id).await?;
    tracing::info!(%user_id, "second factor enabled");
    Ok(Json(user))
}

/// Turn the second factor off
///
/// Needs the password (a wrong one answers 403).
//
// The password, so that a borrowed session cannot do it.
#[utoipa::path(post, path = "/api/v1/me/totp/disable", operation_id = "disableTotp", tag = "account",
    request_body = DisableTotp,
    responses((status = 200, description = "Disabled", body = User)))]
pub async fn disable_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<DisableTotp>,
) -> Result<Json<User>, ApiError> {
    let (user_id, email, _) = principal.user()?;
    confirm_password(&state, email, body.password, "password").await?;
    let user = state.base.disable_totp(principal.org_id, user_id).await?;
    tracing::info!(%user_id, "second factor disabled");
    Ok(Json(user))
}

/// Accept an invitation
///
/// Joins an organization with an invitation token and a password of one's own, and signs the
/// new user in. An unknown, used or expired token answers 404.
#[utoipa::path(post, path = "/api/v1/invitations/accept", operation_id = "acceptInvitation", tag = "account",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 201, description = "Joined and signed in", body = SessionView, headers(("Set-Cookie" = String, description = "The session cookie `s4e_session` (HttpOnly, Secure, SameSite=Strict)"))),
        (status = 404, description = "No such invitation", body = ErrorBody),
        (status = 409, description = "The e-mail is already a user's", body = ErrorBody),
    ))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    meta: ClientMeta,
    PublicJson(body): PublicJson<AcceptInvitationRequest>,
) -> Result<Response, ApiError> {
    if body.token.len() != 64 || !body.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("invitation"));
    }
    // The e-mail is not known yet; the shape rules apply, the e-mail rule is checked below.
    password::check_new(&body.password, "", "password")?;
    let password = body.password.clone();
    let password_hash = password::hash(body.password).await?;
    let user = state
        .base
        .accept_invitation(&AcceptInvitation {
            token_hash: session::id_of(&body.token),
            password_hash,
        })
        .await?;
    if password.trim().eq_ignore_ascii_case(&user.email) {
        tracing::info!(user_id = %user.id, "invitee chose the e-mail address as password");
    }
    audit::write(
        &state,
        user.org_id,
        user_entry(&user, "users.join", StatusCode::CREATED, &meta),
    )
    .await;
    start_session(&state, user, &meta, StatusCode::CREATED).await
}

/// Sign out
///
/// Ends the current session and clears its cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "account",
    responses((status = 204, description = "Done")))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let (user_id, _, session_id) = principal.user()?;
    state
        .sessions
        .revoke(user_id, session_id)
        .await
        .map_err(session_store_error)?;
    Ok(without_cookie(StatusCode::NO_CONTENT))
}

fn without_cookie(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::clear_cookie()).expect("a valid header"),
    );
    response
}

fn session_store_error(error: s4e_store::StoreError) -> ApiError {
    tracing::warn!(%error, "session store unavailable");
    ApiError::unavailable("sessions are unavailable, try again")
}

/// Who the caller is and what it may do
#[utoipa::path(get, path = "/api/v1/me", operation_id = "me", tag = "account",
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Me>, ApiError> {
    let (user, api_key, csrf_token) = match &principal.actor {
        Actor::User {
            user_id,
            csrf_token,
            ..
        } => {
            // A partner's user acting inside a customer belongs to the partner.
            let home = principal.acting_from.unwrap_or(principal.org_id);
            let user = state.base.get_user(home, *user_id).await?;
            (Some(user), None, Some(csrf_token.clone()))
        }
        Actor::ApiKey(key) => (
            None,
            Some(ApiKeyRef {
                id: key.record.id,
                prefix: key.record.prefix.clone(),
            }),
            None,
        ),
    };
    Ok(Json(Me {
        org_id: principal.org_id,
        user,
        api_key,
        csrf_token,
        permissions: principal
            .permissions
            .names()
            .into_iter()
            .map(std::borrow::Cow::Borrowed)
            .collect(),
    }))
}

/// The signed-in user's sessions
#[utoipa::path(get, path = "/api/v1/me/sessions", operation_id = "listSessions", tag = "account",
    responses((status = 200, description = "The sessions", body = List<SessionSummary>)))]
pub async fn sessions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<SessionSummary>>, ApiError> {
    let (user_id, _, current) = principal.user()?;
    let stored = state
        .sessions
        .list(user_id)
        .await
        .map_err(session_store_error)?;
    let items = stored
        .into_iter()
        .map(|session| SessionSummary {
            current: session.id == current,
            id: session.id,
            created_at: session.data.created_at,
            last_seen_at: session.last_seen_at,
            ip: session.data.ip,
            user_agent: session.data.user_agent,
        })
        .collect();
    Ok(Json(List { items }))
}

/// End one of the user's sessions
#[utoipa::path(delete, path = "/api/v1/me/sessions/{session_id}", operation_id = "endSession", tag = "account",
    params(("session_id" = String, Path, max_length = 128)),
    responses((status = 204, description = "Done")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(session_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (user_id, _, current) = principal.user()?;
    let ended = state
        .sessions
        .revoke(user_id, &session_id)
        .await
        .map_err(session_store_error)?;
    if !ended {
        return Err(ApiError::not_found("session"));
    }
    if session_id == current {
        return Ok(without_cookie(StatusCode::NO_CONTENT));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sign out everywhere, this session included
#[utoipa::path(delete, path = "/api/v1/me/sessions", operation_id = "endAllSessions", tag = "account",
    responses((status = 204, description = "Done")))]
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let (user_id, _, _) = principal.user()?;
    let ended = state
        .sessions
        .revoke_all(user_id, None)
        .await
        .map_err(session_store_error)?;
    tracing::info!(%user_id, ended, "signed out everywhere");
    Ok(without_cookie(StatusCode::NO_CONTENT))
}

/// Change the password
///
/// Every other session of the user ends. A wrong current password answers 403.
#[utoipa::path(post, path = "/api/v1/me/password", operation_id = "changePassword", tag = "account",
    request_body = ChangePassword,
    responses((status = 204, description = "Done")))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<ChangePassword>,
) -> Result<Response, ApiError> {
    let (user_id, email, current) = principal.user()?;
    password::check_new(&body.new_password, email, "new_password")?;
    confirm_password(&state, email, body.current_password, "current_password").await?;
    let password_hash = password::hash(body.new_password).await?;
    state
        .base
        .set_password(principal.org_id, user_id, &password_hash)
        .await?;
    let ended = state
        .sessions
        .revoke_all(user_id, Some(current))
        .await
        .map_err(session_store_error)?;
    tracing::info!(%user_id, ended, "password changed, other sessions ended");
    Ok(StatusCode::NO_CONTENT.into_response())
}
