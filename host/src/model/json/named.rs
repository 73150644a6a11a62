//! The fork's named enums as a tree of their paths, followed while a document is written
//! (see `fork.rs`): the reference renames them after building its map
//! (`openvidu::names::name_enum`), a number at a path becoming its name in place and an
//! absent one (left out at zero) appended to its parent object.

use super::super::openvidu::names::{named_enums, NamedEnum};
use super::{push_key, push_string};

/// Where named enums are below one object, by key.
#[derive(Default)]
pub(super) struct Node {
    children: Vec<(&'static str, Child)>,
}

pub(super) enum Child {
    /// An object (a message or a oneof wrapper) with named enums inside.
    Object(Node),
    /// A list whose elements are objects with named enums inside.
    List(Node),
    /// A named enum.
    Leaf(&'static NamedEnum),
}

impl Node {
    /// The tree of the named enums of documents whose root message is `root`.
    pub(super) fn of(root: &str) -> Node {
        let mut tree = Node::default();
        for named in named_enums(root) {
            let mut node = &mut tree;
            let mut steps = named.path;
            while let [key, rest @ ..] = steps {
                let child = match rest {
                    [] => {
                        node.children.push((key, Child::Leaf(named)));
                        break;
                    }
                    ["[]", tail @ ..] if !tail.is_empty() => {
                        steps = tail;
                        node.entry(key, || Child::List(Node::default()))
                    }
                    _ => {
                        steps = rest;
                        node.entry(key, || Child::Object(Node::default()))
                    }
                };
                node = match child {
                    Child::Object(n) | Child::List(n) => n,
                    Child::Leaf(_) => unreachable!("a named enum is not an object"),
                };
            }
        }
        tree
    }

    fn entry(&mut self, key: &'static str, new: impl FnOnce() -> Child) -> &mut Child {
        let i = match self.children.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.children.push((key, new()));
                self.children.len() - 1
            }
        };
        &mut self.children[i].1
    }

    /// The child at `key` and its position.
    fn child(&self, key: &str) -> Option<(usize, &Child)> {
        self.children
            .iter()
            .enumerate()
            .find(|(_, (k, _))| *k == key)
            .map(|(i, (_, c))| (i, c))
    }
}

/// The named enums below the member being written: its node, and which of them the
/// object wrote in place (by position in the node).
pub(super) struct Named<'n> {
    node: Option<&'n Node>,
    written: u64,
}

impl<'n> Named<'n> {
    pub(super) fn new(node: Option<&'n Node>) -> Self {
        debug_assert!(node.is_none_or(|n| n.children.len() <= 64));
        Named { node, written: 0 }
    }

    /// The child at `key`, marked as written.
    pub(super) fn take(&mut self, key: &str) -> Option<&'n Child> {
        let (i, child) = self.node?.child(key)?;
        self.written |= 1 << i;
        Some(child)
    }

    /// Appends the zero names of the named enums not written (oneof cases excepted).
    pub(super) fn append_absent(&self, out: &mut String, comma: &mut bool) {
        let Some(node) = self.node else { return };
        for (i, (key, child)) in node.children.iter().enumerate() {
            if let Child::Leaf(named) = child {
                if self.written & (1 << i) == 0 && !named.case {
                    push_key(out, key, comma);
                    push_name(out, named, 0);
                }
            }
        }
    }
}

/// Writes an enum's name, or its number as a decimal string when it has none.
pub(super) fn push_name(out: &mut String, named: &NamedEnum, number: i32) {
    match named.names.get(&number) {
        Some(name) => push_string(out, name),
        None => {
            out.push('"');
            out.push_str(itoa::Buffer::new().format(number));
            out.push('"');
        }
    }
}

/// What a value is in the tree of named enums.
#[derive(Clone, Copy)]
pub(super) enum At<'n> {
    Nothing,
    Leaf(&'n NamedEnum),
    Object(&'n Node),
}

impl<'n> At<'n> {
    /// A member's place: a leaf or an object (a list's elements are placed by
    /// [`At::elements`]).
    pub(super) fn member(child: Option<&'n Child>) -> Self {
        match child {
            Some(Child::Leaf(named)) => At::Leaf(named),
            Some(Child::Object(node)) => At::Object(node),
            Some(Child::List(_)) | None => At::Nothing,
        }
    }

    /// The place of the elements of a list member.
    pub(super) fn elements(child: Option<&'n Child>) -> Self {
        match child {
            Some(Child::List(node)) => At::Object(node),
            _ => At::Nothing,
        }
    }
}
