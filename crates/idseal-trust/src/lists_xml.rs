//! Writing the lists of [`crate::lists`] as unsigned XML (ETSI TS 119 612 shape, prefix `tsl`;
//! our extensions and the VRL under prefix `idseal`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::lists::{
    GovernanceList, IDSEAL_NS, ListPointer, MIME_TYPE, SERVICE_TYPE_VDS_CA, SchemeInformation, SchemeList,
    StatusPeriod, TSL_NS, TSL_TYPE_GOVERNANCE, TSL_TYPE_SCHEME, TSL_TYPE_TSL, TSL_VERSION, TrustServiceProvider, Tsl,
    Vrl, format_datetime, to_hex,
};

/// A small XML writer: elements are written in order, text is escaped.
struct Writer {
    out: String,
}

fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\r' => s.push_str("&#xD;"),
            c => s.push(c),
        }
    }
    s
}

impl Writer {
    fn new() -> Self {
        Self { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str(&format!("</{name}>\n"));
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.out.push_str(&escape(text));
        self.out.push_str(&format!("</{name}>\n"));
    }

    fn name(&mut self, wrapper: &str, text: &str) {
        self.open(wrapper, &[]);
        self.leaf_with("tsl:Name", &[("xml:lang", "en")], text);
        self.close(wrapper);
    }

    fn certificate(&mut self, der: &[u8]) {
        self.open("tsl:DigitalId", &[]);
        self.leaf("tsl:X509Certificate", &STANDARD.encode(der));
        self.close("tsl:DigitalId");
    }
}

fn root_attrs<'a>() -> [(&'a str, &'a str); 4] {
    [
        ("xmlns:tsl", TSL_NS),
        ("xmlns:idseal", IDSEAL_NS),
        ("Id", "TrustServiceStatusList"),
        ("TSLTag", "http://uri.etsi.org/19612/TSLTag"),
    ]
}

/// The `SchemeInformation` element; `middle` writes `SchemeTerritory` and `PointersToOtherTSL`,
/// `tail` writes `SchemeExtensions`.
fn scheme_information(
    w: &mut Writer,
    info: &SchemeInformation,
    tsl_type: &str,
    territory: Option<&str>,
    middle: impl FnOnce(&mut Writer),
    tail: impl FnOnce(&mut Writer),
) {
    w.open("tsl:SchemeInformation", &[]);
    w.leaf("tsl:TSLVersionIdentifier", &TSL_VERSION.to_string());
    w.leaf("tsl:TSLSequenceNumber", &info.sequence_number.to_string());
    w.leaf("tsl:TSLType", tsl_type);
    w.name("tsl:SchemeOperatorName", &info.operator_name);
    if let Some(t) = territory {
        w.leaf("tsl:SchemeTerritory", t);
    }
    middle(w);
    w.leaf("tsl:ListIssueDateTime", &format_datetime(info.issued_at));
    w.open("tsl:NextUpdate", &[]);
    w.leaf("tsl:dateTime", &format_datetime(info.next_update));
    w.close("tsl:NextUpdate");
    w.open("tsl:DistributionPoints", &[]);
    for uri in &info.distribution_points {
        w.leaf("tsl:URI", uri);
    }
    w.close("tsl:DistributionPoints");
    tail(w);
    w.close("tsl:SchemeInformation");
}

/// One `OtherTSLPointer`; `info` writes the `OtherInformation` items.
fn pointer(w: &mut Writer, location: &str, certificate: &[u8], info: impl FnOnce(&mut Writer)) {
    w.open("tsl:OtherTSLPointer", &[]);
    w.open("tsl:ServiceDigitalIdentities", &[]);
    w.open("tsl:ServiceDigitalIdentity", &[]);
    w.certificate(certificate);
    w.close("tsl:ServiceDigitalIdentity");
    w.close("tsl:ServiceDigitalIdentities");
    w.leaf("tsl:TSLLocation", location);
    w.open("tsl:AdditionalInformation", &[]);
    w.open("tsl:OtherInformation", &[]);
    w.leaf("tsl:MimeType", MIME_TYPE);
    w.close("tsl:OtherInformation");
    info(w);
    w.close("tsl:AdditionalInformation");
    w.close("tsl:OtherTSLPointer");
}

pub(crate) fn governance(list: &GovernanceList) -> String {
    let mut w = Writer::new();
    w.open("tsl:TrustServiceStatusList", &root_attrs());
    let middle = |w: &mut Writer| {
        w.open("tsl:PointersToOtherTSL", &[]);
        for op in &list.operators {
            pointer(w, &op.scheme_list_location, &op.signer_certificate, |w| {
                w.open("tsl:OtherInformation", &[]);
                w.leaf("tsl:SchemeTerritory", &op.iac);
                w.close("tsl:OtherInformation");
                w.open("tsl:OtherInformation", &[]);
                w.name("tsl:SchemeOperatorName", &op.name);
                w.close("tsl:OtherInformation");
            });
        }
        w.close("tsl:PointersToOtherTSL");
    };
    scheme_information(&mut w, &list.information, TSL_TYPE_GOVERNANCE, None, middle, |_| ());
    w.close("tsl:TrustServiceStatusList");
    w.out
}

fn kind_pointer(w: &mut Writer, p: &ListPointer, kind: &str) {
    pointer(w, &p.location, &p.signer_certificate, |w| {
        w.open("tsl:OtherInformation", &[]);
        w.leaf("idseal:ListKind", kind);
        w.close("tsl:OtherInformation");
    });
}

pub(crate) fn scheme(list: &SchemeList) -> String {
    let mut w = Writer::new();
    w.open("tsl:TrustServiceStatusList", &root_attrs());
    let middle = |w: &mut Writer| {
        w.open("tsl:PointersToOtherTSL", &[]);
        for p in &list.tsls {
            kind_pointer(w, p, "TSL");
        }
        kind_pointer(w, &list.vrl, "VRL");
        w.close("tsl:PointersToOtherTSL");
    };
    let tail = |w: &mut Writer| {
        w.open("tsl:SchemeExtensions", &[]);
        w.open("idseal:ManifestScope", &[]);
        for id in &list.manifest_scope {
            w.leaf("idseal:ManifestId", &id.to_string());
        }
        w.close("idseal:ManifestScope");
        w.close("tsl:SchemeExtensions");
    };
    scheme_information(&mut w, &list.information, TSL_TYPE_SCHEME, Some(&list.iac), middle, tail);
    w.close("tsl:TrustServiceStatusList");
    w.out
}

fn service_core(w: &mut Writer, tsp: &TrustServiceProvider, period: &StatusPeriod) {
    w.leaf("tsl:ServiceTypeIdentifier", SERVICE_TYPE_VDS_CA);
    w.name("tsl:ServiceName", &tsp.service_name);
    w.open("tsl:ServiceDigitalIdentity", &[]);
    w.certificate(&tsp.ca_certificate);
    w.close("tsl:ServiceDigitalIdentity");
    w.leaf("tsl:ServiceStatus", period.status.uri());
    w.leaf("tsl:StatusStartingTime", &format_datetime(period.since));
}

pub(crate) fn tsl(list: &Tsl) -> String {
    let mut w = Writer::new();
    w.open("tsl:TrustServiceStatusList", &root_attrs());
    scheme_information(&mut w, &list.information, TSL_TYPE_TSL, Some(&list.iac), |_| (), |_| ());
    w.open("tsl:TrustServiceProviderList", &[]);
    for tsp in &list.providers {
        w.open("tsl:TrustServiceProvider", &[]);
        w.open("tsl:TSPInformation", &[]);
        w.name("tsl:TSPName", &tsp.name);
        w.close("tsl:TSPInformation");
        w.open("tsl:TSPServices", &[]);
        w.open("tsl:TSPService", &[]);
        w.open("tsl:ServiceInformation", &[]);
        service_core(&mut w, tsp, &tsp.current);
        w.open("tsl:ServiceInformationExtensions", &[]);
        w.open("tsl:Extension", &[("Critical", "true")]);
        w.open("idseal:SigningCertificates", &[]);
        for der in &tsp.signing_certificates {
            w.leaf("idseal:X509Certificate", &STANDARD.encode(der));
        }
        w.close("idseal:SigningCertificates");
        w.close("tsl:Extension");
        w.close("tsl:ServiceInformationExtensions");
        w.close("tsl:ServiceInformation");
        if !tsp.history.is_empty() {
            w.open("tsl:ServiceHistory", &[]);
            for h in &tsp.history {
                w.open("tsl:ServiceHistoryInstance", &[]);
                service_core(&mut w, tsp, h);
                w.close("tsl:ServiceHistoryInstance");
            }
            w.close("tsl:ServiceHistory");
        }
        w.close("tsl:TSPService");
        w.close("tsl:TSPServices");
        w.close("tsl:TrustServiceProvider");
    }
    w.close("tsl:TrustServiceProviderList");
    w.close("tsl:TrustServiceStatusList");
    w.out
}

pub(crate) fn vrl(list: &Vrl) -> String {
    let mut w = Writer::new();
    w.open("idseal:VdsRevocationList", &[("xmlns:idseal", IDSEAL_NS), ("Id", "VdsRevocationList")]);
    w.leaf("idseal:SequenceNumber", &list.sequence_number.to_string());
    w.leaf("idseal:IAC", &list.iac);
    w.leaf("idseal:ListIssueDateTime", &format_datetime(list.issued_at));
    w.leaf("idseal:NextUpdate", &format_datetime(list.next_update));
    for r in &list.revoked {
        w.open("idseal:RevokedSeal", &[]);
        w.leaf("idseal:Fingerprint", &to_hex(&r.fingerprint));
        w.leaf("idseal:RevocationTime", &format_datetime(r.revoked_at));
        w.leaf("idseal:Reason", &r.reason);
        w.close("idseal:RevokedSeal");
    }
    w.close("idseal:VdsRevocationList");
    w.out
}
