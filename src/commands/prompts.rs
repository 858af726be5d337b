//! `prompts list | show | render`: what prompt files exist, what one says, and exactly
//! which messages it produces for each provider.

use serde_json::{Value, json};

use crate::chat::{Part, Request};
use crate::cli::{PromptsAction, PromptsCommon};
use crate::config::{Context, Env};
use crate::error::{Error, Result};
use crate::prompts::{self, PromptFile};
use crate::provider::{MaxTokensField, ProviderKind, Target, build_request};
use crate::{input, output};

/// `json`: `--json` (global to the `prompts` subcommands).
pub fn run(action: &PromptsAction, json: bool, ctx: &Context) -> Result<()> {
    let env = &ctx.env;
    match action {
        PromptsAction::List(common) => list(common, json, env),
        PromptsAction::Show { prompt, common } => show(prompt, common, json, env),
        PromptsAction::Render {
            prompt,
            input,
            files,
            vars,
            common,
        } => render(prompt, input, files, vars, common, json, env),
    }
}

fn dirs(common: &PromptsCommon, env: &Env) -> Result<Vec<std::path::PathBuf>> {
    env.warn_problems();
    Ok(prompts::search_dirs(common.prompts_dir.as_deref(), env))
}

fn list(common: &PromptsCommon, json: bool, env: &Env) -> Result<()> {
    let found = prompts::list(&dirs(common, env)?);
    if json {
        for p in &found {
            output::out_line(
                &json!({
                    "name": p.name,
                    "latest": p.versions.last(),
                    "versions": p.versions,
                    "description": p.description,
                    "path": p.path.display().to_string(),
                })
                .to_string(),
            );
        }
        return Ok(());
    }
    if found.is_empty() {
        output::warn(
            "no prompt files found (looked in --prompts-dir, LLMPIPE_PROMPTS, ./prompts and the config directory)",
        );
        return Ok(());
    }
    let width = found.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
    output::out_line(&format!("{:width$}  LATEST  VERSIONS  DESCRIPTION", "NAME"));
    for p in &found {
        let versions: Vec<String> = p.versions.iter().map(|v| format!("v{v}")).collect();
        output::out_line(&format!(
            "{:width$}  {:6}  {:8}  {}",
            p.name,
            format!("v{}", p.versions.last().copied().unwrap_or(0)),
            versions.join(","),
            p.description.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

fn show(spec: &str, common: &PromptsCommon, json: bool, env: &Env) -> Result<()> {
    let p = prompts::load(spec, &dirs(common, env)?)?;
    if json {
        let m = &p.meta;
        let examples: Vec<Value> = m
            .examples
            .iter()
            .map(|e| json!({"input": e.input, "output": e.output}))
            .collect();
        output::out_line(
            &json!({
                "prompt": p.label(),
                "name": p.name,
                "version": p.version,
                "path": p.path.display().to_string(),
                "description": m.description,
                "system": m.system,
                "model": m.model,
                "temperature": m.temperature,
                "max_tokens": m.max_tokens,
                "labels": m.labels,
                "schema": p.schema,
                "examples": examples,
                "template": p.template,
            })
            .to_string(),
        );
        return Ok(());
    }
    let text = crate::input::read_file_bounded(&p.path)
        .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", p.path.display())))?;
    output::out(&text);
    if !text.ends_with('\n') {
        output::out("\n");
    }
    Ok(())
}

fn render(
    spec: &str,
    words: &[String],
    files: &[std::path::PathBuf],
    vars: &[String],
    common: &PromptsCommon,
    json: bool,
    env: &Env,
) -> Result<()> {
    let p: PromptFile = prompts::load(spec, &dirs(common, env)?)?;
    let vars = prompts::parse_vars(vars)?;
    let text = input::gather(words, files)?;
    let req = Request {
        system: p.meta.system.clone(),
        messages: p.render(&text, &vars)?,
        max_tokens: p
            .meta
            .max_tokens
            .unwrap_or(crate::config::DEFAULT_MAX_TOKENS),
        ..Default::default()
    };
    if json {
        let mut shapes = json!({"prompt": p.label()});
        for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
            let target = Target {
                kind,
                model: p.meta.model.clone().unwrap_or_default(),
                base_url: kind.default_base_url().into(),
                api_key: None,
                max_tokens_field: MaxTokensField::MaxCompletionTokens,
            };
            let body = build_request(&target, &req, false).body;
            let mut shape = json!({"messages": body["messages"]});
            if let Some(system) = body.get("system") {
                shape["system"] = system.clone();
            }
            shapes[kind.name()] = shape;
        }
        output::out_line(&shapes.to_string());
        return Ok(());
    }
    if let Some(system) = &req.system {
        output::out_line(&format!("[system]\n{system}\n"));
    }
    for m in &req.messages {
        let role = m.role.as_str();
        let text: Vec<&str> = m
            .content
            .iter()
            .filter_map(|c| match c {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        output::out_line(&format!("[{role}]\n{}\n", text.join("\n")));
    }
    Ok(())
}
