// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IAuctionMarket {
    function bid(address collection, uint256 tokenId) external payable;
    function settle(address collection, uint256 tokenId) external;
    function withdraw() external;
    function makeOffer(address collection, uint256 tokenId, uint256 expiry) external payable;
    function withdrawOffer(address collection, uint256 tokenId) external;
}

/// @notice Test double only: a bidder, offerer or royalty receiver that, when paid, re-enters the market
/// (mode 2) or refuses the ETH (mode 1); mode 0 takes it quietly.
contract ReentrantParty {
    IAuctionMarket public immutable market;
    uint8 public mode;
    bool public reentered;
    address public collection;
    uint256 public tokenId;

    constructor(IAuctionMarket market_) {
        market = market_;
    }

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function bid(address collection_, uint256 tokenId_) external payable {
        collection = collection_;
        tokenId = tokenId_;
        market.bid{value: msg.value}(collection_, tokenId_);
    }

    function offer(address collection_, uint256 tokenId_, uint256 expiry) external payable {
        collection = collection_;
        tokenId = tokenId_;
        market.makeOffer{value: msg.value}(collection_, tokenId_, expiry);
    }

    function withdrawOffer() external {
        market.withdrawOffer(collection, tokenId);
    }

    function withdraw() external {
        market.withdraw();
    }

    receive() external payable {
        if (mode == 1) revert("no thanks");
        if (mode == 2) {
            try market.bid{value: msg.value}(collection, tokenId) {
                reentered = true;
            } catch {}
            try market.settle(collection, tokenId) {
                reentered = true;
            } catch {}
            try market.withdraw() {
                reentered = true;
            } catch {}
        }
    }
}
