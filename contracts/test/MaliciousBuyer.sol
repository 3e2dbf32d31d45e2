// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IMarket {
    function buy(address collection, uint256 tokenId, uint256 price) external payable;
    function withdraw() external;
    function liveListing(address collection, uint256 tokenId) external view returns (address seller, uint256 price);
}

/// @notice Test double only: a buyer that re-enters the market from onERC721Received and from receive().
contract MaliciousBuyer {
    IMarket public immutable market;
    address public collection;
    uint256 public tokenId;
    bool public reentered;
    bool public refuseEther;

    constructor(IMarket market_) {
        market = market_;
    }

    function attack(address collection_, uint256 tokenId_, bool refuseEther_) external payable {
        collection = collection_;
        tokenId = tokenId_;
        refuseEther = refuseEther_;
        (, uint256 price) = market.liveListing(collection_, tokenId_);
        market.buy{value: msg.value}(collection_, tokenId_, price);
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        // try to buy again while the first buy is still running: the guard must stop it
        try market.buy{value: 0}(collection, tokenId, 0) {
            reentered = true;
        } catch {}
        return this.onERC721Received.selector;
    }

    receive() external payable {
        if (refuseEther) revert("no thanks");
        try market.withdraw() {
            reentered = true;
        } catch {}
    }
}
