//! SCAL3 on the simulated phone against the real server: enrolment, a wrong PIN counted, the
//! plain revocation refused once a credential exists, an authorised revocation whose record
//! verifies, and the lock after too many wrong PINs.

use std::sync::Arc;

use idseal_device::{Device, DeviceError, DeviceState};
use idseal_types::Clock;
use serde_json::json;

use crate::server::{Srv, start};

async fn phone(srv: &Srv) -> Device {
    let clock: Arc<dyn Clock> = srv.clock.clone();
    let mut phone = Device::new(DeviceState::new(&srv.base, &srv.seal()).unwrap(), clock).unwrap();
    phone.enroll(None).await.unwrap();
    phone
}

#[tokio::test]
async fn enrol_refuse_wrong_pin_then_authorize_revocation() {
    let srv = start().await;
    let mut phone = phone(&srv).await;
    let revoke = json!({"op": "revoke_enrollment"});
    assert!(matches!(phone.scal3_authorize("2468", &revoke).await, Err(DeviceError::NoScal3Credential)));

    let vk = phone.scal3_enrol("2468").await.unwrap();
    assert!(phone.state().scal3_credential().is_some());
    // The state keeps the credential across a save and load.
    let back = DeviceState::from_json(&phone.state().to_json()).unwrap();
    assert_eq!(back.scal3_credential(), phone.state().scal3_credential());
    // A second credential for the same token is refused.
    match phone.scal3_enrol("2468").await {
        Err(DeviceError::Server { status: 409, .. }) => {}
        other => panic!("{other:?}"),
    }

    // Once SCAL3 is enrolled, the plain signed revocation is refused.
    match phone.revoke().await {
        Err(DeviceError::Server { status: 403, error, .. }) => assert_eq!(error, "scal3_required"),
        other => panic!("{other:?}"),
    }
    // An unknown instruction is the server's 400.
    match phone.scal3_authorize("2468", &json!({"op": "format_disk"})).await {
        Err(DeviceError::Server { status: 400, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A wrong PIN is counted.
    match phone.scal3_authorize("1357", &revoke).await {
        Err(DeviceError::PinMismatch(d)) => assert!(d.contains("attempts left"), "{d}"),
        other => panic!("{other:?}"),
    }

    let auth = phone.scal3_authorize("2468", &revoke).await.unwrap();
    assert_eq!(auth.instruction, r#"{"op":"revoke_enrollment"}"#);
    assert_eq!(auth.record.len(), idseal_scal3::RECORD_LEN);
    let cred = idseal_scal3::Credential::from_bytes(phone.state().scal3_credential().unwrap()).unwrap();
    assert_eq!(cred.verifying_key(), vk);
    idseal_scal3::verify_record(&vk, &cred.device_public_key(), &auth.record, &auth.instruction_hash).unwrap();
    assert!(auth.log_index > 0);
    // The enrollment is revoked: nothing more can be authorised.
    assert!(phone.scal3_authorize("2468", &revoke).await.is_err());
}

#[tokio::test]
async fn too_many_wrong_pins_lock_the_credential() {
    let srv = start().await;
    let mut phone = phone(&srv).await;
    phone.scal3_enrol("2468").await.unwrap();
    let revoke = json!({"op": "revoke_enrollment"});
    let mut locked = false;
    for _ in 0..10 {
        match phone.scal3_authorize("0000", &revoke).await {
            Err(DeviceError::PinMismatch(_)) => {}
            Err(DeviceError::Locked(_)) => {
                locked = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(locked, "never locked");
    // Locked: even the right PIN is refused.
    assert!(matches!(phone.scal3_authorize("2468", &revoke).await, Err(DeviceError::Locked(_))));
}
