//! The JSON report: [`RunReport`] serialized as is. The document carries `schema`
//! (`mtpspec-report`) and `schema_version`; wire data is text when it is UTF-8 and
//! `data_base64` otherwise.

use super::RunReport;

pub fn to_string(report: &RunReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
