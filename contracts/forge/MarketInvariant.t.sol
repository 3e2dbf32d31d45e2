// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LatentmintCollection} from "../src/LatentmintCollection.sol";
import {LatentmintMarket} from "../src/LatentmintMarket.sol";

/// @dev The few Foundry cheatcodes used (forge-std is not on this machine's npm mirror in a usable version).
interface Vm {
    function prank(address sender) external;
    function deal(address account, uint256 amount) external;
    function warp(uint256 timestamp) external;
    function assume(bool condition) external;
}

/// @notice A payee that refuses every ETH payment, so the market must credit it instead.
contract Refuser {
    function bid(LatentmintMarket market, address collection, uint256 tokenId) external payable {
        market.bid{value: msg.value}(collection, tokenId);
    }

    function offer(LatentmintMarket market, address collection, uint256 tokenId) external payable {
        market.makeOffer{value: msg.value}(collection, tokenId, block.timestamp + 1 days);
    }
}

/// @notice Drives the market with random lists, auctions, bids, offers, cancels, buys, settles, accepts and
/// withdrawals from three accounts and a contract that refuses ETH; forge calls its functions in random order.
contract Handler {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    LatentmintMarket public immutable market;
    LatentmintCollection public immutable collection;
    Refuser public immutable refuser;
    address[3] public actors = [address(0xA11CE), address(0xB0B), address(0xCA7)];
    uint256[6] public tokens;

    constructor(LatentmintMarket market_, LatentmintCollection collection_, Refuser refuser_, uint256[6] memory tokens_) {
        market = market_;
        collection = collection_;
        refuser = refuser_;
        tokens = tokens_;
    }

    function _actor(uint256 seed) private view returns (address) {
        return actors[seed % 3];
    }

    function _token(uint256 seed) private view returns (uint256) {
        return tokens[seed % 6];
    }

    function _as(address who, bytes memory call, uint256 value) private {
        vm.prank(who);
        (bool ok,) = address(market).call{value: value}(call);
        ok; // refusals are part of the game; the invariants judge the state
    }

    function list(uint256 who, uint256 token, uint96 price) external {
        _as(_actor(who), abi.encodeCall(market.list, (address(collection), _token(token), uint256(price) % 5 ether + 1)), 0);
    }

    function auction(uint256 who, uint256 token, uint96 reserve) external {
        _as(_actor(who), abi.encodeCall(market.createAuction, (address(collection), _token(token), uint256(reserve) % 5 ether + 1, 15 minutes)), 0);
    }

    function bid(uint256 who, uint256 token, uint96 amount) external {
        _as(_actor(who), abi.encodeCall(market.bid, (address(collection), _token(token))), uint256(amount) % 10 ether);
    }

    function refuserBids(uint256 token, uint96 amount) external {
        vm.prank(address(0xD00D));
        try refuser.bid{value: uint256(amount) % 10 ether}(market, address(collection), _token(token)) {} catch {}
    }

    function offer(uint256 who, uint256 token, uint96 amount) external {
        _as(_actor(who), abi.encodeCall(market.makeOffer, (address(collection), _token(token), block.timestamp + 1 days)), uint256(amount) % 10 ether);
    }

    function refuserOffers(uint256 token, uint96 amount) external {
        vm.prank(address(0xD00D));
        try refuser.offer{value: uint256(amount) % 10 ether}(market, address(collection), _token(token)) {} catch {}
    }

    function accept(uint256 who, uint256 token, uint256 buyer) external {
        address from = buyer % 4 == 3 ? address(refuser) : _actor(buyer);
        (uint96 amount,) = market.offers(address(collection), _token(token), from);
        _as(_actor(who), abi.encodeCall(market.acceptOffer, (address(collection), _token(token), from, amount)), 0);
    }

    function buy(uint256 who, uint256 token) external {
        (, uint80 price,) = market.listings(address(collection), _token(token));
        _as(_actor(who), abi.encodeCall(market.buy, (address(collection), _token(token), price)), price);
    }

    function cancel(uint256 who, uint256 token) external {
        _as(_actor(who), abi.encodeCall(market.cancel, (address(collection), _token(token))), 0);
        _as(_actor(who), abi.encodeCall(market.cancelAuction, (address(collection), _token(token))), 0);
    }

    function settle(uint256 who, uint256 token) external {
        _as(_actor(who), abi.encodeCall(market.settle, (address(collection), _token(token))), 0);
    }

    function withdrawOffer(uint256 who, uint256 token) external {
        _as(_actor(who), abi.encodeCall(market.withdrawOffer, (address(collection), _token(token))), 0);
    }

    function withdraw(uint256 who) external {
        _as(_actor(who), abi.encodeCall(market.withdraw, ()), 0);
    }

    function wait(uint32 seconds_) external {
        vm.warp(block.timestamp + seconds_ % 2 hours);
    }
}

contract MarketInvariantTest {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    LatentmintMarket market;
    LatentmintCollection collection;
    Handler handler;
    Refuser refuser;
    uint256 total;

    function setUp() public {
        market = new LatentmintMarket();
        refuser = new Refuser();
        collection = new LatentmintCollection("Forge", "F", address(this), address(refuser), 1000, "", address(market));
        uint256[6] memory tokens;
        address[3] memory actors = [address(0xA11CE), address(0xB0B), address(0xCA7)]; // the handler's
        for (uint256 i; i < 6; ++i) {
            tokens[i] = uint256(keccak256(abi.encode("work", i)));
            address owner = actors[i % 3];
            collection.mint(owner, bytes32(tokens[i]), keccak256(abi.encode("meta", i)));
            vm.prank(owner);
            collection.setApprovalForAll(address(market), true);
        }
        handler = new Handler(market, collection, refuser, tokens);
        for (uint256 i; i < 3; ++i) {
            vm.deal(handler.actors(i), 100 ether);
        }
        vm.deal(address(0xD00D), 100 ether);
        total = _everyone();
    }

    /// @notice forge calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function _everyone() private view returns (uint256 sum) {
        sum = address(market).balance + address(refuser).balance + address(0xD00D).balance;
        for (uint256 i; i < 3; ++i) {
            sum += handler.actors(i).balance;
        }
    }

    /// @notice The market holds exactly the highest bids, the open offers and the unpaid credits.
    function invariant_marketHoldsWhatItOwes() public view {
        uint256 owed;
        address[4] memory people = [handler.actors(0), handler.actors(1), handler.actors(2), address(refuser)];
        for (uint256 t; t < 6; ++t) {
            uint256 token = handler.tokens(t);
            (,,,, address bidder, uint96 amount) = market.auctions(address(collection), token);
            if (bidder != address(0)) owed += amount;
            for (uint256 p; p < 4; ++p) {
                (uint96 offered,) = market.offers(address(collection), token, people[p]);
                owed += offered;
            }
        }
        for (uint256 p; p < 4; ++p) {
            owed += market.credits(people[p]);
        }
        require(address(market).balance == owed, "market balance != bids + offers + credits");
    }

    /// @notice No ETH is created or lost (no gas is charged in forge's EVM by default to pranked calls' balances).
    function invariant_noEthMadeOrLost() public view {
        require(_everyone() == total, "ETH created or lost");
    }

    /// @notice Every token is held by an actor, or by the market for a live listing or auction.
    function invariant_escrowOnlyForLiveSales() public view {
        for (uint256 t; t < 6; ++t) {
            uint256 token = handler.tokens(t);
            if (collection.ownerOf(token) == address(market)) {
                (address seller,,) = market.listings(address(collection), token);
                (address auctionSeller,,,,,) = market.auctions(address(collection), token);
                require(seller != address(0) || auctionSeller != address(0), "token stuck in escrow");
            }
        }
    }

    /// @notice The handler's calls reach the market (pranked senders pay their own ETH): the sequences do things.
    function test_handlerCallsReachTheMarket() public {
        handler.auction(0, 0, 1 ether);
        handler.bid(1, 0, 2 ether);
        handler.offer(2, 1, 3 ether);
        require(address(market).balance == 5 ether, "handler calls did nothing");
    }

    /// @notice A fuzzed first bid below the reserve never starts an auction; at or above it always does.
    function testFuzz_reserveStartsTheClock(uint96 reserve, uint96 offered) public {
        vm.assume(reserve > 0 && offered > 0 && offered < 50 ether);
        uint256 token = handler.tokens(0);
        address seller = handler.actors(0);
        vm.prank(seller);
        market.createAuction(address(collection), token, reserve, 1 hours);
        vm.prank(handler.actors(1));
        (bool ok,) = address(market).call{value: offered}(abi.encodeCall(market.bid, (address(collection), token)));
        (, uint40 end,,, address bidder,) = market.auctions(address(collection), token);
        require(ok == (offered >= reserve), "reserve rule");
        require((end != 0) == ok && (bidder != address(0)) == ok, "clock");
    }

    receive() external payable {}
}
