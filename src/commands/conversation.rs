//! `-c` / `--cid`: the conversation a call belongs to, its earlier turns from the call log,
//! and how many of them fit the model's context window.

use super::record::{LOG_CUT_MARK, MAX_LOG_FIELD};
use crate::chat::{Message, Request};
use crate::cli::RequestArgs;
use crate::config::{Env, Settings};
use crate::error::{Error, Result};
use crate::output;
use crate::store::{self, Turn};

pub struct Conversation {
    pub id: String,
    /// Earlier successful turns, oldest first (empty for a new conversation).
    history: Vec<Turn>,
}

impl Conversation {
    /// A new conversation, or the one `-c` / `--cid` names with its turns.
    pub fn resolve(args: &RequestArgs, settings: &Settings, env: &Env) -> Result<Conversation> {
        if !args.continue_last && args.cid.is_none() {
            return Ok(Conversation {
                id: store::new_conversation_id(),
                history: Vec::new(),
            });
        }
        let path = settings
            .log_path
            .clone()
            .or_else(|| store::default_path(env))
            .ok_or_else(|| {
                Error::config("no call log to continue from: set HOME or XDG_DATA_HOME")
            })?;
        let no_log = || {
            Error::usage(format!(
                "no earlier conversation to continue in the call log {}",
                path.display()
            ))
        };
        if !path.exists() && !store::spool_path(&path).exists() {
            return Err(no_log());
        }
        let unreadable =
            |e: rusqlite::Error| Error::config(format!("cannot read the call log: {e}"));
        let conn = store::open_for_reading(&path).map_err(Error::config)?;
        let id = match &args.cid {
            Some(id) => id.clone(),
            None => store::last_conversation(&conn)
                .map_err(unreadable)?
                .ok_or_else(no_log)?,
        };
        let history = store::turns(&conn, &id).map_err(unreadable)?;
        if history.is_empty() && args.cid.is_some() {
            return Err(Error::usage(format!(
                "conversation {id} has no successful turns in {}",
                path.display()
            )));
        }
        // A turn too large for the log was stored cut short: replaying it would send a
        // different conversation than the one that happened.
        let cut = |t: &str| t.contains(LOG_CUT_MARK);
        if history.iter().any(|t| {
            t.system.as_deref().is_some_and(cut)
                || (transcript(t).is_none() && (cut(&t.input) || cut(&t.reply)))
        }) {
            return Err(Error::usage(format!(
                "conversation {id} cannot be continued: one of its turns was larger than {} KiB and the call log kept only its start",
                MAX_LOG_FIELD >> 10
            ))
            .with_hint("start a new conversation (without -c/--cid) and send what matters of it again"));
        }
        Ok(Conversation { id, history })
    }

    /// The system prompt of the latest turn, which a continuation keeps unless `-s` or a
    /// prompt file sets one.
    pub fn system(&self) -> Option<&str> {
        self.history.last().and_then(|t| t.system.as_deref())
    }

    /// Puts the earlier turns before the new messages, dropping the oldest turns (never the
    /// system prompt or the new message) until the request fits the context window minus
    /// `--max-tokens`. Counted with the count-tokens counter: exact for OpenAI models, an
    /// estimate for Claude.
    pub fn prepend_to(&self, req: &mut Request, settings: &Settings) {
        if self.history.is_empty() {
            return;
        }
        let target = &settings.targets[0];
        let (counter, _) = crate::cost::estimate_counter(&target.model, target.kind);
        let turns: Vec<Vec<Message>> = self
            .history
            .iter()
            .map(|t| match transcript(t) {
                Some(tr) => tr.messages,
                None => vec![
                    Message::user_text(t.input.clone()),
                    Message::assistant_text(t.reply.clone()),
                ],
            })
            .collect();
        let mut first = 0;
        if let Some(window) = settings.context_window {
            let budget = window.saturating_sub(req.max_tokens);
            let units = |pair: &Vec<Message>| -> u64 {
                pair.iter()
                    .map(|m| {
                        counter
                            .message_units(m.role.as_str(), m.content.iter(), 1)
                            .units
                    })
                    .sum()
            };
            let costs: Vec<u64> = turns.iter().map(units).collect();
            let mut total = counter.request_units(req, 1).units + costs.iter().sum::<u64>();
            while counter.tokens(total) > budget && first < turns.len() {
                total -= costs[first];
                first += 1;
            }
        }
        output::debug(&format!(
            "conversation {}: {} earlier turn(s) sent, {first} dropped to fit the context window",
            self.id,
            turns.len() - first,
        ));
        let mut messages: Vec<Message> = turns.into_iter().skip(first).flatten().collect();
        messages.append(&mut req.messages);
        req.messages = messages;
    }
}

/// The tool turns a logged call kept, if it used tools.
fn transcript(t: &Turn) -> Option<crate::tools::Transcript> {
    crate::tools::Transcript::from_json(t.messages.as_ref()?)
}

impl Conversation {
    /// The tools of the latest turn that had any (reused unless `--tool` is given again).
    pub fn tools(&self) -> Option<Vec<crate::tools::ToolSpec>> {
        self.history
            .iter()
            .rev()
            .find_map(transcript)
            .map(|t| t.tools)
            .filter(|t| !t.is_empty())
    }

    /// The calls the latest reply asked for, which the next turn must answer.
    pub fn pending_calls(&self) -> Vec<crate::chat::ToolCall> {
        self.history
            .last()
            .and_then(transcript)
            .map(|t| t.pending_calls())
            .unwrap_or_default()
    }
}
