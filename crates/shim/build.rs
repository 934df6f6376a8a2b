//! Release builds get the function order of `link-order.txt` (made by
//! `hack/link-order.sh`): the shim's resident size is mostly its text.
fn main() {
    berth_build_support::link_order("containerd-shim-berth-v2");
}
