//! The validated pipeline graph, in topological order.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::config::ComponentConfig;
use super::error::{ConfigError, SourceText, closest};
use super::{PipelineSettings, RawComponent};
use crate::component::{OperatorPlan, SinkPlan, SourcePlan, StreamKind};
use crate::metrics::Role;
use crate::registry::Registry;

/// What a node runs.
#[derive(Clone)]
pub enum NodeImplementation {
    /// A source.
    Source(Arc<dyn SourcePlan>),
    /// An operator.
    Operator(Arc<dyn OperatorPlan>),
    /// A sink.
    Sink(Arc<dyn SinkPlan>),
}

/// One component of a validated pipeline.
#[derive(Clone)]
pub struct Node {
    /// The component's name.
    pub name: Arc<str>,
    /// Source, operator or sink.
    pub role: Role,
    /// The registered kind.
    pub kind: String,
    /// Indices (into [`Plan::nodes`]) of the inputs, all earlier in the order.
    pub inputs: Vec<usize>,
    /// The validated implementation.
    pub implementation: NodeImplementation,
}

impl Node {
    /// The kind of stream this node produces (`None` for sinks).
    pub fn output(&self) -> Option<StreamKind> {
        match &self.implementation {
            NodeImplementation::Source(_) => Some(StreamKind::Observations),
            NodeImplementation::Operator(operator) => Some(operator.output()),
            NodeImplementation::Sink(_) => None,
        }
    }

    fn describe(&self) -> String {
        match &self.implementation {
            NodeImplementation::Source(source) => source.describe(),
            NodeImplementation::Operator(operator) => operator.describe(),
            NodeImplementation::Sink(sink) => sink.describe(),
        }
    }
}

/// A validated pipeline: every node checked, every edge typed, no cycles.
#[derive(Clone)]
pub struct Plan {
    /// The pipeline file.
    pub path: Arc<str>,
    /// Pipeline-wide settings.
    pub settings: Arc<PipelineSettings>,
    /// Nodes in topological order (every input before its consumers).
    pub nodes: Vec<Node>,
}

impl Plan {
    /// Whether every source ends by itself.
    pub fn bounded(&self) -> bool {
        self.nodes.iter().all(|node| match &node.implementation {
            NodeImplementation::Source(source) => source.bounded(),
            _ => true,
        })
    }

    /// Indices of every node upstream of `index` (transitively), including itself.
    pub fn upstream(&self, index: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![index];
        while let Some(next) = stack.pop() {
            if !std::mem::replace(&mut seen[next], true) {
                stack.extend(&self.nodes[next].inputs);
            }
        }
        (0..self.nodes.len()).filter(|i| seen[*i]).collect()
    }

    /// The graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n");
        for node in &self.nodes {
            let shape = match node.role {
                Role::Source => "invhouse",
                Role::Operator => "box",
                Role::Sink => "house",
            };
            let label = format!(
                "{}\\n{}\\n{}",
                node.name,
                node.kind,
                node.describe().replace('"', "\\\"")
            );
            let _ = writeln!(
                out,
                "  \"{}\" [shape={shape}, label=\"{label}\"];",
                node.name
            );
        }
        for node in &self.nodes {
            for &input in &node.inputs {
                let upstream = &self.nodes[input];
                let stream = upstream.output().map_or("", StreamKind::as_str);
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{}\" [label=\"{stream}\"];",
                    upstream.name, node.name
                );
            }
        }
        out.push_str("}\n");
        out
    }

    /// The graph as readable text, one node per line with its inputs.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "pipeline {} (base currency {})\n",
            self.settings.name, self.settings.base_currency
        );
        for node in &self.nodes {
            let role = match node.role {
                Role::Source => "source",
                Role::Operator => "operator",
                Role::Sink => "sink",
            };
            let _ = write!(out, "  {role:<8} {:<16} kind={:<10}", node.name, node.kind);
            if !node.inputs.is_empty() {
                let inputs: Vec<&str> = node.inputs.iter().map(|&i| &*self.nodes[i].name).collect();
                let _ = write!(out, " <- {}", inputs.join(", "));
            }
            if let Some(output) = node.output() {
                let _ = write!(out, " -> {}", output.as_str());
            }
            let _ = writeln!(out, "\n           {}", node.describe());
        }
        out
    }
}

pub(super) fn validate(
    source: &SourceText,
    settings: PipelineSettings,
    raw: Vec<RawComponent<'_>>,
    registry: &Registry,
    errors: &mut Vec<ConfigError>,
) -> Option<Plan> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (index, component) in raw.iter().enumerate() {
        if let Some(previous) = names.insert(&component.name, index) {
            let first = &raw[previous];
            errors.push(ConfigError::at(
                source,
                Some(component.kind.span()),
                Some(component.label.clone()),
                format!(
                    "the name `{}` is already used by {}",
                    component.name, first.label
                ),
            ));
        }
    }

    let mut implementations: Vec<Option<NodeImplementation>> = Vec::with_capacity(raw.len());
    for component in &raw {
        implementations.push(configure(source, component, registry, errors));
    }

    // Resolve inputs.
    let mut inputs: Vec<Vec<usize>> = Vec::with_capacity(raw.len());
    for component in &raw {
        let mut resolved = Vec::new();
        for input in &component.inputs {
            match names.get(input.get_ref().as_str()) {
                Some(&index) if raw[index].role == Role::Sink => errors.push(ConfigError::at(
                    source,
                    Some(input.span()),
                    Some(component.label.clone()),
                    format!(
                        "input `{}` is a sink; sinks produce no stream",
                        input.get_ref()
                    ),
                )),
                Some(&index) => resolved.push(index),
                None => {
                    let mut known: Vec<&str> = raw
                        .iter()
                        .filter(|c| c.role != Role::Sink && c.name != component.name)
                        .map(|c| c.name.as_str())
                        .collect();
                    known.sort_unstable();
                    let mut error = ConfigError::at(
                        source,
                        Some(input.span()),
                        Some(component.label.clone()),
                        format!(
                            "unknown input `{}`; known: {}",
                            input.get_ref(),
                            known.join(", ")
                        ),
                    );
                    if let Some(near) = closest(input.get_ref(), known.iter().copied()) {
                        error = error.with_help(format!("did you mean `{near}`?"));
                    }
                    errors.push(error);
                }
            }
        }
        inputs.push(resolved);
    }

    let order = topological_order(source, &raw, &inputs, errors)?;

    // Type-check edges where both ends were configured.
    for (index, component) in raw.iter().enumerate() {
        let Some(consumer) = &implementations[index] else {
            continue;
        };
        let (accepts, requires) = match consumer {
            NodeImplementation::Operator(operator) => (operator.accepts(), operator.requires()),
            NodeImplementation::Sink(sink) => (sink.accepts(), Vec::new()),
            NodeImplementation::Source(_) => continue,
        };
        let produced_by = |input: usize| match &implementations[input] {
            Some(NodeImplementation::Source(_)) => Some(StreamKind::Observations),
            Some(NodeImplementation::Operator(operator)) => Some(operator.output()),
            _ => None,
        };
        let all_known = inputs[index]
            .iter()
            .all(|&input| produced_by(input).is_some());
        for required in requires {
            if all_known
                && !inputs[index]
                    .iter()
                    .any(|&i| produced_by(i) == Some(required))
            {
                let span = component
                    .inputs
                    .first()
                    .map_or_else(|| component.kind.span(), |input| input.span());
                errors.push(
                    ConfigError::at(
                        source,
                        Some(span),
                        Some(component.label.clone()),
                        format!(
                            "`{}` needs an input that produces {}; none of its inputs does",
                            component.kind.get_ref(),
                            required.as_str()
                        ),
                    )
                    .with_help(match required {
                        StreamKind::Quantities => {
                            "add a `fundamentals` operator over the source of the quantities \
                             to `inputs`"
                        }
                        StreamKind::Prices => "add a `normalize` operator to `inputs`",
                        _ => "add a component that produces it to `inputs`",
                    }),
                );
            }
        }
        for (&input, name) in inputs[index].iter().zip(&component.inputs) {
            let Some(produced) = produced_by(input) else {
                continue;
            };
            if !accepts.contains(&produced) {
                let wanted: Vec<&str> = accepts.iter().map(|k| k.as_str()).collect();
                errors.push(
                    ConfigError::at(
                        source,
                        Some(name.span()),
                        Some(component.label.clone()),
                        format!(
                            "input `{}` produces {} but `{}` accepts {}",
                            name.get_ref(),
                            produced.as_str(),
                            component.kind.get_ref(),
                            wanted.join(" or ")
                        ),
                    )
                    .with_help(if produced == StreamKind::Observations {
                        "route the source through a `normalize` operator first (`fundamentals` for \
                         quantities such as gas storage)"
                            .to_string()
                    } else {
                        "connect a component that produces the accepted stream".to_string()
                    }),
                );
            }
        }
    }

    if !errors.is_empty() {
        return None;
    }
    let position: HashMap<usize, usize> = order
        .iter()
        .enumerate()
        .map(|(pos, &index)| (index, pos))
        .collect();
    let nodes = order
        .iter()
        .map(|&index| {
            let component = &raw[index];
            Node {
                name: Arc::from(component.name.as_str()),
                role: component.role,
                kind: component.kind.get_ref().clone(),
                inputs: inputs[index].iter().map(|input| position[input]).collect(),
                implementation: implementations[index]
                    .clone()
                    .expect("configured when no errors"),
            }
        })
        .collect::<Vec<_>>();
    Some(Plan {
        path: source.path.clone(),
        settings: Arc::new(settings),
        nodes,
    })
}

fn configure(
    source: &SourceText,
    component: &RawComponent<'_>,
    registry: &Registry,
    errors: &mut Vec<ConfigError>,
) -> Option<NodeImplementation> {
    let kind = component.kind.get_ref().as_str();
    let config = ComponentConfig {
        label: component.label.clone(),
        table: component.table.clone(),
        source,
    };
    let known = registry.kinds(component.role);
    let result = match component.role {
        Role::Source => registry
            .source(kind)
            .map(|k| k.configure(&config).map(NodeImplementation::Source)),
        Role::Operator => registry
            .operator(kind)
            .map(|k| k.configure(&config).map(NodeImplementation::Operator)),
        Role::Sink => registry
            .sink(kind)
            .map(|k| k.configure(&config).map(NodeImplementation::Sink)),
    };
    match result {
        Some(Ok(implementation)) => Some(implementation),
        Some(Err(mut kind_errors)) => {
            errors.append(&mut kind_errors);
            None
        }
        None => {
            let role = match component.role {
                Role::Source => "source",
                Role::Operator => "operator",
                Role::Sink => "sink",
            };
            let mut error = ConfigError::at(
                source,
                Some(component.kind.span()),
                Some(component.label.clone()),
                format!("unknown {role} kind `{kind}`; known: {}", known.join(", ")),
            );
            if let Some(near) = closest(kind, known.iter().copied()) {
                error = error.with_help(format!("did you mean `{near}`?"));
            }
            errors.push(error);
            None
        }
    }
}

fn topological_order(
    source: &SourceText,
    raw: &[RawComponent<'_>],
    inputs: &[Vec<usize>],
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<usize>> {
    // Depth-first with colours; a grey node reached again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; raw.len()];
    let mut order = Vec::with_capacity(raw.len());
    let mut found_cycle = false;
    for root in 0..raw.len() {
        if colour[root] != Colour::White {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        colour[root] = Colour::Grey;
        while let Some((node, next)) = stack.pop() {
            if let Some(&input) = inputs[node].get(next) {
                stack.push((node, next + 1));
                match colour[input] {
                    Colour::White => {
                        colour[input] = Colour::Grey;
                        stack.push((input, 0));
                    }
                    Colour::Grey => {
                        found_cycle = true;
                        let mut path: Vec<&str> =
                            stack.iter().map(|(n, _)| raw[*n].name.as_str()).collect();
                        let start = path.iter().position(|n| *n == raw[input].name).unwrap_or(0);
                        path.drain(..start);
                        path.push(&raw[input].name);
                        let span = raw[node]
                            .inputs
                            .iter()
                            .find(|i| *i.get_ref() == raw[input].name)
                            .map(|i| i.span());
                        errors.push(
                            ConfigError::at(
                                source,
                                span,
                                Some(raw[node].label.clone()),
                                format!("cycle in the pipeline graph: {}", path.join(" -> ")),
                            )
                            .with_help("a pipeline must be acyclic; remove one of these inputs"),
                        );
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                order.push(node);
            }
        }
    }
    (!found_cycle).then_some(order)
}
