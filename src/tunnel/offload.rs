//! Segmentation offload for the tun device (IFF_VNET_HDR): placeholder until the datapath work lands.
