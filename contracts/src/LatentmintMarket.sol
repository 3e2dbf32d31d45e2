// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title LatentmintMarket
/// @notice A fixed-price market for ERC-721 tokens. Every sale pays the token's ERC-2981 royalty to its
/// receiver and the rest to the seller. Listing puts the token in the market's escrow (Foundation's model):
/// while listed it cannot leave the seller and come back, or lose and regain an approval, so no listing is
/// ever stale or revived at an old price; `cancel` returns it. A buyer names the price they agreed to, and
/// a royalty raised above the one in force when the token was listed makes the sale revert, so neither
/// side is ever paid or charged other than what they saw.
/// @dev Checks-effects-interactions throughout, and every entry point is nonReentrant. Payments are pushed
/// with a gas stipend; a receiver that refuses (or runs out of gas) is credited instead and withdraws later,
/// so no receiver can block a sale.
contract LatentmintMarket is ReentrancyGuard {
    /// @notice Seller, price and the royalty rate at listing share one storage slot.
    struct Listing {
        address seller;
        uint80 price;
        uint16 royaltyBasisPoints;
    }

    /// @notice `account` may not list or change this token: it is neither the owner nor approved by them.
    error NotOwnerOrApproved(address account);
    /// @notice The token is not listed.
    error NotListed(address collection, uint256 tokenId);
    /// @notice Only the seller (or an operator they approved for all their tokens) may change a listing.
    error NotSeller(address account);
    /// @notice The listing's price is not the one the buyer agreed to.
    error PriceChanged(uint256 listed, uint256 agreed);
    /// @notice The collection raised the royalty since the token was listed; the seller must list again.
    error RoyaltyRaised(uint256 listedBasisPoints, uint256 royalty);
    /// @notice A price must be above zero and fit in 80 bits (1.2 million ETH).
    error InvalidPrice(uint256 price);
    /// @notice The market may not transfer this token: approve it first (approve or setApprovalForAll).
    error MarketNotApproved(address collection, uint256 tokenId);
    /// @notice Less ETH was sent than the price.
    error Underpaid(uint256 price, uint256 sent);
    /// @notice Nothing to withdraw for `account`.
    error NothingToWithdraw(address account);
    /// @notice Sending ETH to `account` failed.
    error TransferFailed(address account);

    /// @notice A token was listed (or relisted) at `price` wei.
    event Listed(address indexed collection, uint256 indexed tokenId, address indexed seller, uint256 price);
    /// @notice A listing's price changed.
    event PriceUpdated(address indexed collection, uint256 indexed tokenId, uint256 price);
    /// @notice A listing was cancelled.
    event Cancelled(address indexed collection, uint256 indexed tokenId);
    /// @notice A token was sold: `royalty` went to `royaltyReceiver`, the rest of `price` to `seller`.
    event Sold(
        address indexed collection,
        uint256 indexed tokenId,
        address seller,
        address indexed buyer,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty
    );
    /// @notice A push payment failed; `account` can withdraw `amount`.
    event PaymentDeferred(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount`.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Gas forwarded with each pushed payment: enough for a wallet or a splitter's receive().
    uint256 public constant PAYMENT_GAS = 30_000;

    /// @notice The listing of each token (seller zero = not listed).
    mapping(address collection => mapping(uint256 tokenId => Listing)) public listings;
    /// @notice ETH owed to accounts whose push payment failed.
    mapping(address account => uint256) public credits;

    /// @notice List a token at `price` wei: the market takes it into escrow until it is sold or the listing is cancelled.
    /// The caller must own it or be approved; the market must be approved to transfer it.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    /// @param price Price in wei (above zero).
    function list(address collection, uint256 tokenId, uint256 price) external nonReentrant {
        address owner = _checkOwnerOrApproved(collection, tokenId);
        if (price == 0 || price > type(uint80).max) revert InvalidPrice(price);
        if (!_marketApproved(collection, tokenId, owner)) revert MarketNotApproved(collection, tokenId);
        (, uint256 royalty) = _royalty(collection, tokenId, 10_000);
        listings[collection][tokenId] = Listing(owner, uint80(price), uint16(royalty));
        emit Listed(collection, tokenId, owner, price);
        IERC721(collection).transferFrom(owner, address(this), tokenId);
    }

    /// @notice Change a listing's price (by its seller or their operator).
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    /// @param price New price in wei (above zero).
    function updatePrice(address collection, uint256 tokenId, uint256 price) external nonReentrant {
        Listing storage listing = _listed(collection, tokenId);
        _checkSeller(collection, listing.seller);
        if (price == 0 || price > type(uint80).max) revert InvalidPrice(price);
        listing.price = uint80(price);
        emit PriceUpdated(collection, tokenId, price);
    }

    /// @notice Remove a listing and return the token to its seller (by the seller or their operator).
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function cancel(address collection, uint256 tokenId) external nonReentrant {
        address seller = _listed(collection, tokenId).seller;
        _checkSeller(collection, seller);
        delete listings[collection][tokenId];
        emit Cancelled(collection, tokenId);
        IERC721(collection).transferFrom(address(this), seller, tokenId);
    }

    /// @notice Buy a listed token at the price you agreed to. Send at least that price; any excess is refunded.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    /// @param price The price the buyer saw; the purchase reverts if the listing now says otherwise.
    function buy(address collection, uint256 tokenId, uint256 price) external payable nonReentrant {
        Listing memory listing = _listed(collection, tokenId);
        if (price != listing.price) revert PriceChanged(listing.price, price);
        if (msg.value < price) revert Underpaid(price, msg.value);
        (address receiver, uint256 royalty) = _royalty(collection, tokenId, price);
        if (royalty * 10_000 > price * listing.royaltyBasisPoints) revert RoyaltyRaised(listing.royaltyBasisPoints, royalty);
        delete listings[collection][tokenId];
        emit Sold(collection, tokenId, listing.seller, msg.sender, price, receiver, royalty);
        IERC721(collection).safeTransferFrom(address(this), msg.sender, tokenId);
        _pay(receiver, royalty);
        _pay(listing.seller, price - royalty);
        _pay(msg.sender, msg.value - price);
    }

    /// @notice Withdraw ETH credited after a failed push payment.
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender);
        emit Withdrawn(msg.sender, amount);
    }

    /// @notice The listing of a token held in escrow here, or zero values.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function liveListing(address collection, uint256 tokenId) external view returns (address seller, uint256 price) {
        Listing memory listing = listings[collection][tokenId];
        if (listing.seller == address(0) || _ownerOf(collection, tokenId) != address(this)) return (address(0), 0);
        return (listing.seller, listing.price);
    }

    function _listed(address collection, uint256 tokenId) private view returns (Listing storage listing) {
        listing = listings[collection][tokenId];
        if (listing.seller == address(0)) revert NotListed(collection, tokenId);
    }

    function _checkSeller(address collection, address seller) private view {
        if (msg.sender != seller && !IERC721(collection).isApprovedForAll(seller, msg.sender)) revert NotSeller(msg.sender);
    }

    function _ownerOf(address collection, uint256 tokenId) private view returns (address owner) {
        try IERC721(collection).ownerOf(tokenId) returns (address found) {
            return found;
        } catch {
            return address(0);
        }
    }

    function _checkOwnerOrApproved(address collection, uint256 tokenId) private view returns (address owner) {
        owner = IERC721(collection).ownerOf(tokenId);
        if (
            msg.sender != owner && !IERC721(collection).isApprovedForAll(owner, msg.sender)
                && IERC721(collection).getApproved(tokenId) != msg.sender
        ) revert NotOwnerOrApproved(msg.sender);
    }

    function _marketApproved(address collection, uint256 tokenId, address owner) private view returns (bool) {
        return IERC721(collection).getApproved(tokenId) == address(this) || IERC721(collection).isApprovedForAll(owner, address(this));
    }

    /// @dev The royalty as the collection states it, capped at the price; none if it does not implement ERC-2981.
    function _royalty(address collection, uint256 tokenId, uint256 price) private view returns (address, uint256) {
        try IERC165(collection).supportsInterface(type(IERC2981).interfaceId) returns (bool supported) {
            if (!supported) return (address(0), 0);
        } catch {
            return (address(0), 0);
        }
        (address receiver, uint256 amount) = IERC2981(collection).royaltyInfo(tokenId, price);
        if (receiver == address(0)) return (address(0), 0);
        return (receiver, amount > price ? price : amount);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount, gas: PAYMENT_GAS}("");
        if (!ok) {
            credits[to] += amount;
            emit PaymentDeferred(to, amount);
        }
    }
}
