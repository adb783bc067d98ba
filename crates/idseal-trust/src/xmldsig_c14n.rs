//! Canonical XML (W3C c14n 1.0 / 1.1 and exclusive c14n 1.0, all without comments) over a
//! `roxmltree` document, for the node sets XML-DSig references produce here: one subtree (a
//! same-document `#id` reference or SignedInfo), or the whole document minus one subtree (the
//! enveloped signature). Both are unions of whole subtrees, so every rendered element's parent
//! is rendered too (except the apex), which keeps the namespace rules simple.
//!
//! roxmltree already gives the XPath data model c14n needs: line ends normalised, attribute
//! values normalised, character and predefined entity references replaced, CDATA as text.
//! It does not keep the prefix an element or attribute was written with, so the prefix is
//! looked up from its namespace; a document where one element sees two prefixes bound to the
//! same namespace is refused (the lookup would be ambiguous).

use std::collections::BTreeMap;

use roxmltree::{Node, NodeType};

use crate::TrustError;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A canonicalisation algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum C14n {
    /// Exclusive XML Canonicalization 1.0, no InclusiveNamespaces PrefixList.
    Exclusive,
    /// Canonical XML 1.0.
    Inclusive10,
    /// Canonical XML 1.1.
    Inclusive11,
}

/// The exclusive c14n URI (what we sign with).
pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

impl C14n {
    /// The algorithm for a CanonicalizationMethod / Transform URI; the `#WithComments` forms and
    /// unknown URIs are `None`.
    pub(crate) fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            EXC_C14N => Some(Self::Exclusive),
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315" => Some(Self::Inclusive10),
            "http://www.w3.org/2006/12/xml-c14n11" => Some(Self::Inclusive11),
            _ => None,
        }
    }
}

fn form(reason: &str) -> TrustError {
    TrustError::SignatureForm(reason.to_owned())
}

/// Prefix (`""` for the default namespace) to namespace URI, as rendered by output ancestors
/// (exclusive) or in scope at the output parent (inclusive).
type NsMap<'a> = BTreeMap<&'a str, &'a str>;

/// Canonicalise `apex` (an element, or the document root node for the whole document) and its
/// descendants, leaving out the subtree at `exclude` and all comments.
pub(crate) fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<Node<'_, '_>>,
    mode: C14n,
) -> Result<Vec<u8>, TrustError> {
    let mut out = Vec::new();
    if apex.node_type() == NodeType::Root {
        let mut after_root = false;
        for child in apex.children() {
            match child.node_type() {
                NodeType::Element => {
                    element(&mut out, child, exclude, mode, &NsMap::new(), true)?;
                    after_root = true;
                }
                NodeType::PI => {
                    if after_root {
                        out.push(b'\n');
                    }
                    pi(&mut out, child);
                    if !after_root {
                        out.push(b'\n');
                    }
                }
                _ => {}
            }
        }
    } else {
        // Inclusive c14n renders every namespace in scope at the apex: start from nothing.
        element(&mut out, apex, exclude, mode, &NsMap::new(), true)?;
    }
    Ok(out)
}

fn element_prefix<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().namespace().and_then(|uri| node.lookup_prefix(uri)).unwrap_or("")
}

fn check_unambiguous(node: Node<'_, '_>) -> Result<(), TrustError> {
    let mut seen = std::collections::BTreeSet::new();
    for ns in node.namespaces() {
        if !seen.insert(ns.uri()) {
            return Err(form("two prefixes bound to one namespace are not supported"));
        }
    }
    Ok(())
}

fn element<'a>(
    out: &mut Vec<u8>,
    node: Node<'a, '_>,
    exclude: Option<Node<'_, '_>>,
    mode: C14n,
    rendered: &NsMap<'a>,
    is_apex: bool,
) -> Result<(), TrustError> {
    check_unambiguous(node)?;
    let prefix = element_prefix(node);
    let qname = |p: &str, local: &str| if p.is_empty() { local.to_owned() } else { format!("{p}:{local}") };
    let name = qname(prefix, node.tag_name().name());

    // Namespace declarations to render, and the map handed to the children.
    let mut decls: NsMap<'a> = NsMap::new();
    let mut next = rendered.clone();
    match mode {
        C14n::Exclusive => {
            let mut utilized: Vec<(&'a str, &'a str)> = vec![(prefix, node.tag_name().namespace().unwrap_or(""))];
            for a in node.attributes() {
                if let Some(uri) = a.namespace()
                    && uri != XML_NS
                {
                    let p = node.lookup_prefix(uri).filter(|p| !p.is_empty());
                    utilized.push((p.ok_or_else(|| form("attribute namespace without a prefix"))?, uri));
                }
            }
            for (p, uri) in utilized {
                if rendered.get(p).copied().unwrap_or("") != uri {
                    decls.insert(p, uri);
                    next.insert(p, uri);
                }
            }
        }
        C14n::Inclusive10 | C14n::Inclusive11 => {
            let mut scope: NsMap<'a> = NsMap::new();
            for ns in node.namespaces() {
                let p = ns.name().unwrap_or("");
                if p == "xml" {
                    continue;
                }
                scope.insert(p, ns.uri());
            }
            for (p, uri) in &scope {
                if rendered.get(p) != Some(uri) && !(p.is_empty() && uri.is_empty() && is_apex) {
                    decls.insert(p, uri);
                }
            }
            if !scope.contains_key("") && rendered.get("").is_some_and(|u| !u.is_empty()) {
                decls.insert("", "");
            }
            next = scope;
        }
    }

    // Attributes, sorted by (namespace URI, local name); unqualified ones first.
    let mut attrs: Vec<(&str, &str, String, &str)> = Vec::new();
    for a in node.attributes() {
        let ns = a.namespace().unwrap_or("");
        let p = match a.namespace() {
            None => "",
            Some(XML_NS) => "xml",
            Some(uri) => node.lookup_prefix(uri).unwrap_or(""),
        };
        attrs.push((ns, a.name(), qname(p, a.name()), a.value()));
    }
    if is_apex && mode != C14n::Exclusive && node.parent_element().is_some() {
        inherit_xml_attributes(node, &mut attrs)?;
    }
    attrs.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));

    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (p, uri) in &decls {
        if p.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attr(out, uri);
        out.push(b'"');
    }
    for (_, _, qn, value) in &attrs {
        out.push(b' ');
        out.extend_from_slice(qn.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attr(out, value);
        out.push(b'"');
    }
    out.push(b'>');
    for child in node.children() {
        if exclude.is_some_and(|x| x.id() == child.id()) {
            continue;
        }
        match child.node_type() {
            NodeType::Element => element(out, child, exclude, mode, &next, false)?,
            NodeType::Text => escape_text(out, child.text().unwrap_or("")),
            NodeType::PI => pi(out, child),
            _ => {}
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    Ok(())
}

/// Inclusive c14n of a subtree inherits the `xml:` attributes of its ancestors. We support
/// `xml:lang` and `xml:space`, and refuse `xml:base` / `xml:id` there (never in our lists).
fn inherit_xml_attributes<'a>(
    node: Node<'a, '_>,
    attrs: &mut Vec<(&'a str, &'a str, String, &'a str)>,
) -> Result<(), TrustError> {
    for anc in node.ancestors().skip(1).filter(Node::is_element) {
        for a in anc.attributes() {
            if a.namespace() != Some(XML_NS) {
                continue;
            }
            match a.name() {
                "lang" | "space" => {
                    if !attrs.iter().any(|x| x.0 == XML_NS && x.1 == a.name()) {
                        attrs.push((XML_NS, a.name(), format!("xml:{}", a.name()), a.value()));
                    }
                }
                _ => return Err(form("xml:base or xml:id above an inclusively canonicalised element")),
            }
        }
    }
    Ok(())
}

fn pi(out: &mut Vec<u8>, node: Node<'_, '_>) {
    if let Some(pi) = node.pi() {
        out.extend_from_slice(b"<?");
        out.extend_from_slice(pi.target.as_bytes());
        if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
            out.push(b' ');
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(b"?>");
    }
}

fn escape_text(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn escape_attr(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' => out.extend_from_slice(b"&#x9;"),
            '\n' => out.extend_from_slice(b"&#xA;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn c14n(xml: &str, mode: C14n) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        String::from_utf8(canonicalize(doc.root(), None, mode).unwrap()).unwrap()
    }

    #[test]
    fn exclusive_basics() {
        let xml = "<?xml version=\"1.0\"?>\n<?pi x?><a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" z='1' a='&lt;&#xA;'><!--c--><e b:q=\"x\"/>t&amp;\r\n<![CDATA[<>]]></a:r><?p?>";
        assert_eq!(
            c14n(xml, C14n::Exclusive),
            "<?pi x?>\n<a:r xmlns:a=\"urn:a\" a=\"&lt;&#xA;\" z=\"1\"><e xmlns:b=\"urn:b\" b:q=\"x\"></e>t&amp;\n&lt;&gt;</a:r>\n<?p?>"
        );
        assert_eq!(
            c14n(xml, C14n::Inclusive10),
            "<?pi x?>\n<a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"&lt;&#xA;\" z=\"1\"><e b:q=\"x\"></e>t&amp;\n&lt;&gt;</a:r>\n<?p?>"
        );
    }

    #[test]
    fn default_namespace_undeclaration() {
        let xml = "<r xmlns=\"urn:d\"><e xmlns=\"\"><f/></e></r>";
        assert_eq!(c14n(xml, C14n::Exclusive), "<r xmlns=\"urn:d\"><e xmlns=\"\"><f></f></e></r>");
        assert_eq!(c14n(xml, C14n::Inclusive10), "<r xmlns=\"urn:d\"><e xmlns=\"\"><f></f></e></r>");
    }
}
