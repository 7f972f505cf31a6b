// Who a certificate names (organisation, role, common name), parsed in the browser with
// @peculiar/asn1-x509 (pure ASN.1; @peculiar/x509's DI container needs a reflect polyfill the
// console does not load). For display only: whether a certificate is valid is decided by the
// nodes' MSP, which verifies the chain to the consortium root.
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { fromBase64 } from '../../../src/codec/index.ts';

const OID_O = '2.5.4.10';
const OID_OU = '2.5.4.11';
const OID_CN = '2.5.4.3';

const ROLES = new Set(['admin', 'supervisor', 'doctor', 'nurse', 'patient', 'researcher', 'insurer', 'laboratory', 'device', 'peer', 'orderer', 'client']);

export interface CertHolder {
  readonly org: string;
  readonly role: string;
  readonly name: string;
}

export function holderOf(certPem: string): CertHolder | null {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(certPem);
  const der = m ? fromBase64(m[1]!.replace(/\s+/g, '')) : null;
  if (!der) return null;
  try {
    const cert = AsnConvert.parse(der, Certificate);
    const fields = new Map<string, string[]>();
    for (const rdn of cert.tbsCertificate.subject) {
      for (const atv of rdn) fields.set(atv.type, [...(fields.get(atv.type) ?? []), atv.value.toString()]);
    }
    // The role is one of the organisational units (MedLedger's identity profile puts it there).
    const units = fields.get(OID_OU) ?? [];
    return { org: fields.get(OID_O)?.[0] ?? '?', role: units.find((u) => ROLES.has(u)) ?? units[0] ?? '?', name: fields.get(OID_CN)?.[0] ?? '?' };
  } catch {
    return null;
  }
}
