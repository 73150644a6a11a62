use super::*;
use scenario::{Scenario, Shape, Unit};

fn scenario() -> Scenario {
    Scenario::new(Shape {
        rooms: 2,
        participants: 2,
        tracks: 1,
        node_id: "ND_t".into(),
        seed: 7,
    })
}

#[test]
fn an_items_limit_is_exact() {
    let mut scenario = scenario();
    let mut batcher = Batcher::new(100);
    let mut left = 1;
    while !matches!(
        scenario.next_unit(),
        Unit::Event {
            webhook: Some(_),
            ..
        }
    ) {}
    // The last item of a run: the event fits, its webhook does not.
    let unit = loop {
        let unit = scenario.next_unit();
        if matches!(
            &unit,
            Unit::Event {
                webhook: Some(_),
                ..
            }
        ) {
            break unit;
        }
    };
    left -= batcher.add(unit, DoorChoice::Both, left);
    assert_eq!(left, 0);
}
