// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice What the market needs of a collection that mints lazily: its owner signs vouchers, and it lets
/// this market (and only this market) mint a voucher's token.
interface ILazyMintable {
    function owner() external view returns (address);
    function mintFromVoucher(address to, uint256 tokenId, bytes32 metadataDigest) external;
}

/// @title LatentmintMarket
/// @notice A market for ERC-721 art, the ways art platforms sell: fixed-price listings, reserve auctions
/// (Foundation's rules), offers on any token, and lazy minting, where the artist signs an EIP-712 voucher
/// off-chain and the buyer's purchase (or an auction's first bid) mints the token. Every sale pays the
/// token's ERC-2981 royalty to its receiver and the rest to the seller. A listed or auctioned token waits in
/// the market's escrow: while it is there it cannot leave the seller and come back, or lose and regain an
/// approval, so no listing is ever stale or revived at an old price.
/// @dev Checks-effects-interactions throughout, and every entry point is nonReentrant. Payments are pushed
/// with a gas stipend; a receiver that refuses (or runs out of gas) is credited instead and withdraws later,
/// so no receiver can block a sale, a bid or a settlement. The market's balance is always the sum of the
/// highest bids, open offers and credits: it never holds ETH that is nobody's.
contract LatentmintMarket is ReentrancyGuard, EIP712 {
    /// @notice Seller, price and the royalty rate at listing share one storage slot.
    struct Listing {
        address seller;
        uint80 price;
        uint16 royaltyBasisPoints;
    }

    /// @notice A reserve auction in two slots. Before the first bid `bidder` is zero and `amount` is the reserve;
    /// after it, `amount` is the highest bid and `end` is set.
    struct Auction {
        address seller;
        uint40 end;
        uint32 duration;
        uint16 royaltyBasisPoints;
        address bidder;
        uint96 amount;
    }

    /// @notice An offer's ETH is held here until it is accepted or withdrawn.
    struct Offer {
        uint96 amount;
        uint40 expiry;
    }

    /// @notice What an artist signs to sell a work that is not minted yet (EIP-712, this market's domain).
    /// @param collection The collection the token is minted in; its owner must have signed.
    /// @param tokenId The token: the sha256 of the artwork file.
    /// @param metadataDigest The sha2-256 digest of the metadata's CID.
    /// @param price The price in wei, or the reserve of an auction.
    /// @param royaltyBasisPoints The highest royalty rate the sale may pay (the one the artist showed the buyer).
    /// @param expiry Unix time after which the voucher cannot be redeemed (a started auction runs to its end).
    /// @param auctionDuration Zero for a fixed-price sale; else a reserve auction of this many seconds.
    /// @param nonce Any number; `cancelVoucher(nonce)` makes every voucher of the signer with it unredeemable.
    struct Voucher {
        address collection;
        uint256 tokenId;
        bytes32 metadataDigest;
        uint256 price;
        uint16 royaltyBasisPoints;
        uint64 expiry;
        uint32 auctionDuration;
        uint256 nonce;
    }

    bytes32 private constant _VOUCHER_TYPEHASH = keccak256(
        "Voucher(address collection,uint256 tokenId,bytes32 metadataDigest,uint256 price,uint16 royaltyBasisPoints,uint64 expiry,uint32 auctionDuration,uint256 nonce)"
    );

    /// @notice `account` may not list or change this token: it is neither the owner nor approved by them.
    error NotOwnerOrApproved(address account);
    /// @notice The token is not listed.
    error NotListed(address collection, uint256 tokenId);
    /// @notice Only the seller (or an operator they approved for all their tokens) may change a listing or auction.
    error NotSeller(address account);
    /// @notice The listing's price is not the one the buyer agreed to.
    error PriceChanged(uint256 listed, uint256 agreed);
    /// @notice The collection raised the royalty above the rate the sale was offered at; the seller must list again.
    error RoyaltyRaised(uint256 listedBasisPoints, uint256 royalty);
    /// @notice A price must be above zero and fit in 80 bits (1.2 million ETH); a reserve or offer in 96 bits.
    error InvalidPrice(uint256 price);
    /// @notice The market may not transfer this token: approve it first (approve or setApprovalForAll).
    error MarketNotApproved(address collection, uint256 tokenId);
    /// @notice Less ETH was sent than the price.
    error Underpaid(uint256 price, uint256 sent);
    /// @notice Nothing to withdraw for `account`.
    error NothingToWithdraw(address account);
    /// @notice Sending ETH to `account` failed.
    error TransferFailed(address account);
    /// @notice The voucher's signature is not its collection owner's (wrong key, chain, market, or a changed field).
    error InvalidSignature(address signer, address owner);
    /// @notice The voucher expired at `expiry`.
    error VoucherExpired(uint256 expiry);
    /// @notice The signer cancelled vouchers with this nonce.
    error VoucherCancelled(address signer, uint256 nonce);
    /// @notice A fixed-price voucher was used to bid, or an auction voucher to buy.
    error WrongVoucherKind(uint32 auctionDuration);
    /// @notice The token already has a listing or an auction here.
    error AlreadyForSale(address collection, uint256 tokenId);
    /// @notice The token has no auction here.
    error NoAuction(address collection, uint256 tokenId);
    /// @notice An auction lasts 15 minutes to 30 days.
    error InvalidDuration(uint256 duration);
    /// @notice The auction ended at `end`; it can only be settled.
    error AuctionEnded(uint256 end);
    /// @notice The auction runs until `end`; it can be settled after that.
    error AuctionNotEnded(uint256 end);
    /// @notice A bid must reach `minimum` (the reserve, or the highest bid plus 10%).
    error BidTooLow(uint256 minimum, uint256 bid);
    /// @notice The auction has a bid: it can no longer be cancelled, only settled.
    error AuctionHasBid(address collection, uint256 tokenId);
    /// @notice The seller cannot bid on their own auction or make an offer on their own token.
    error SellerCannotBid(address seller);
    /// @notice No offer from `buyer` on this token.
    error NoOffer(address buyer);
    /// @notice The offer expired at `expiry`.
    error OfferExpired(uint256 expiry);
    /// @notice The offer is not the amount the owner agreed to accept.
    error OfferChanged(uint256 offered, uint256 agreed);
    /// @notice An offer's expiry must be in the future.
    error InvalidExpiry(uint256 expiry);

    /// @notice A token was listed (or relisted) at `price` wei.
    event Listed(address indexed collection, uint256 indexed tokenId, address indexed seller, uint256 price);
    /// @notice A listing's price changed.
    event PriceUpdated(address indexed collection, uint256 indexed tokenId, uint256 price);
    /// @notice A listing was cancelled.
    event Cancelled(address indexed collection, uint256 indexed tokenId);
    /// @notice A token was sold (a listing, a lazy voucher, an auction or an offer): `royalty` went to
    /// `royaltyReceiver`, the rest of `price` to `seller`.
    event Sold(
        address indexed collection,
        uint256 indexed tokenId,
        address seller,
        address indexed buyer,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty
    );
    /// @notice A voucher was redeemed: the token was minted by this market (to the buyer, or into escrow for an auction).
    event LazyMinted(address indexed collection, uint256 indexed tokenId, address indexed signer, uint256 nonce);
    /// @notice The signer made every voucher with `nonce` unredeemable.
    event VoucherCancelledBySigner(address indexed signer, uint256 nonce);
    /// @notice A reserve auction was created; the clock starts at the first bid.
    event AuctionCreated(address indexed collection, uint256 indexed tokenId, address indexed seller, uint256 reserve, uint256 duration);
    /// @notice A bid; `end` is the auction's end after it (extended by a late bid).
    event BidPlaced(address indexed collection, uint256 indexed tokenId, address indexed bidder, uint256 amount, uint256 end);
    /// @notice An auction without bids was cancelled and the token returned.
    event AuctionCancelled(address indexed collection, uint256 indexed tokenId);
    /// @notice An offer was made (or replaced) on a token.
    event OfferMade(address indexed collection, uint256 indexed tokenId, address indexed buyer, uint256 amount, uint256 expiry);
    /// @notice An offer was withdrawn and its ETH returned.
    event OfferWithdrawn(address indexed collection, uint256 indexed tokenId, address indexed buyer, uint256 amount);
    /// @notice A push payment failed; `account` can withdraw `amount`.
    event PaymentDeferred(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount`.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Gas forwarded with each pushed payment: enough for a wallet or a splitter's receive().
    uint256 public constant PAYMENT_GAS = 30_000;
    /// @notice A bid in the last 15 minutes extends the auction to 15 minutes after it (Foundation's rule).
    uint256 public constant EXTENSION = 15 minutes;
    /// @notice Each bid must beat the last by at least a tenth of it.
    uint256 public constant MIN_RAISE_DIVISOR = 10;
    /// @notice Auction durations are bounded so that none ends before a bidder can react, or never.
    uint256 public constant MIN_DURATION = 15 minutes;
    /// @notice See MIN_DURATION.
    uint256 public constant MAX_DURATION = 30 days;

    /// @notice The listing of each token (seller zero = not listed).
    mapping(address collection => mapping(uint256 tokenId => Listing)) public listings;
    /// @notice The reserve auction of each token (seller zero = none).
    mapping(address collection => mapping(uint256 tokenId => Auction)) public auctions;
    /// @notice Open offers, by token and buyer.
    mapping(address collection => mapping(uint256 tokenId => mapping(address buyer => Offer))) public offers;
    /// @notice ETH owed to accounts whose push payment failed.
    mapping(address account => uint256) public credits;
    /// @notice Vouchers cancelled by each signer: bit `nonce % 256` of word `nonce / 256`.
    mapping(address signer => mapping(uint256 word => uint256 bits)) private _cancelledNonces;

    constructor() EIP712("LatentmintMarket", "1") {}

    // -- fixed-price listings ----------------------------------------------------------------------

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

    // -- lazy minting ------------------------------------------------------------------------------

    /// @notice Buy a work that is not minted yet with its artist's fixed-price voucher: one transaction mints the
    /// token to the caller, pays the royalty receiver and the artist, and refunds any excess.
    /// @param voucher The voucher the artist signed (auctionDuration zero).
    /// @param signature The artist's EIP-712 signature of it (65 bytes, low s).
    function buyWithVoucher(Voucher calldata voucher, bytes calldata signature) external payable nonReentrant {
        if (voucher.auctionDuration != 0) revert WrongVoucherKind(voucher.auctionDuration);
        address signer = _checkVoucher(voucher, signature);
        uint256 price = voucher.price;
        if (msg.value < price) revert Underpaid(price, msg.value);
        if (signer == msg.sender) revert SellerCannotBid(signer);
        emit LazyMinted(voucher.collection, voucher.tokenId, signer, voucher.nonce);
        ILazyMintable(voucher.collection).mintFromVoucher(msg.sender, voucher.tokenId, voucher.metadataDigest);
        (address receiver, uint256 royalty) = _royalty(voucher.collection, voucher.tokenId, price);
        if (royalty * 10_000 > price * voucher.royaltyBasisPoints) revert RoyaltyRaised(voucher.royaltyBasisPoints, royalty);
        emit Sold(voucher.collection, voucher.tokenId, signer, msg.sender, price, receiver, royalty);
        _pay(receiver, royalty);
        _pay(signer, price - royalty);
        _pay(msg.sender, msg.value - price);
    }

    /// @notice Make every voucher you signed with `nonce` unredeemable (an auction already started runs on).
    /// @param nonce The vouchers' nonce.
    function cancelVoucher(uint256 nonce) external {
        _cancelledNonces[msg.sender][nonce >> 8] |= 1 << (nonce & 0xff);
        emit VoucherCancelledBySigner(msg.sender, nonce);
    }

    /// @notice Whether `signer` cancelled the vouchers with `nonce`.
    /// @param signer The artist.
    /// @param nonce The vouchers' nonce.
    function voucherCancelled(address signer, uint256 nonce) public view returns (bool) {
        return _cancelledNonces[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @notice The EIP-712 digest the artist signs for `voucher` (for wallets and off-chain checks).
    /// @param voucher The voucher.
    function voucherDigest(Voucher calldata voucher) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_VOUCHER_TYPEHASH, voucher)));
    }

    // -- reserve auctions --------------------------------------------------------------------------

    /// @notice Put a token up for a reserve auction: the market takes it into escrow; the first bid at or above
    /// `reserve` starts a clock of `duration` seconds. Only cancellable before that first bid.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    /// @param reserve The lowest first bid, in wei.
    /// @param duration Seconds from the first bid to the end (15 minutes to 30 days).
    function createAuction(address collection, uint256 tokenId, uint256 reserve, uint256 duration) external nonReentrant {
        address owner = _checkOwnerOrApproved(collection, tokenId);
        if (!_marketApproved(collection, tokenId, owner)) revert MarketNotApproved(collection, tokenId);
        (, uint256 royalty) = _royalty(collection, tokenId, 10_000);
        _openAuction(collection, tokenId, owner, reserve, duration, royalty);
        IERC721(collection).transferFrom(owner, address(this), tokenId);
    }

    /// @notice Bid on a reserve auction. The first bid must reach the reserve and starts the clock; later bids
    /// must beat the highest by 10%, and one in the last 15 minutes moves the end to 15 minutes after it. The
    /// bidder it outbids is refunded at once (or credited, if their address refuses ETH).
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function bid(address collection, uint256 tokenId) external payable nonReentrant {
        _bid(collection, tokenId);
    }

    /// @notice The first bid on a work that is not minted yet, with its artist's auction voucher: the voucher
    /// opens the auction (reserve = its price) and the token is minted into the market's escrow now, so that
    /// nothing the artist does later can take the work from the bidders; the winner receives it at settlement.
    /// Later bids use `bid`.
    /// @param voucher The voucher the artist signed (auctionDuration above zero).
    /// @param signature The artist's EIP-712 signature of it.
    function bidWithVoucher(Voucher calldata voucher, bytes calldata signature) external payable nonReentrant {
        if (voucher.auctionDuration == 0) revert WrongVoucherKind(0);
        address signer = _checkVoucher(voucher, signature);
        _openAuction(voucher.collection, voucher.tokenId, signer, voucher.price, voucher.auctionDuration, voucher.royaltyBasisPoints);
        emit LazyMinted(voucher.collection, voucher.tokenId, signer, voucher.nonce);
        ILazyMintable(voucher.collection).mintFromVoucher(address(this), voucher.tokenId, voucher.metadataDigest);
        _bid(voucher.collection, voucher.tokenId);
    }

    /// @notice Cancel an auction that has no bid yet and return the token (by the seller or their operator).
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function cancelAuction(address collection, uint256 tokenId) external nonReentrant {
        Auction memory auction = _auction(collection, tokenId);
        _checkSeller(collection, auction.seller);
        if (auction.bidder != address(0)) revert AuctionHasBid(collection, tokenId);
        delete auctions[collection][tokenId];
        emit AuctionCancelled(collection, tokenId);
        IERC721(collection).transferFrom(address(this), auction.seller, tokenId);
    }

    /// @notice After the end, give the token to the highest bidder and pay the royalty and the seller. Anyone may call it.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function settle(address collection, uint256 tokenId) external nonReentrant {
        Auction memory auction = _auction(collection, tokenId);
        if (auction.bidder == address(0) || block.timestamp < auction.end) revert AuctionNotEnded(auction.end);
        delete auctions[collection][tokenId];
        uint256 price = auction.amount;
        (address receiver, uint256 royalty) = _royalty(collection, tokenId, price);
        // A royalty raised while bids were open cannot block the sale: the rate at the auction's start is the cap.
        uint256 cap = price * auction.royaltyBasisPoints / 10_000;
        if (royalty > cap) royalty = cap;
        emit Sold(collection, tokenId, auction.seller, auction.bidder, price, receiver, royalty);
        // transferFrom, not safeTransferFrom: a winning contract that refuses tokens must not lock the seller's ETH.
        IERC721(collection).transferFrom(address(this), auction.bidder, tokenId);
        _pay(receiver, royalty);
        _pay(auction.seller, price - royalty);
    }

    // -- offers ------------------------------------------------------------------------------------

    /// @notice Offer the ETH sent for a token, until `expiry`; it stays in the market until accepted or withdrawn.
    /// A second offer from the same buyer replaces the first, whose ETH is returned.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token (it must exist).
    /// @param expiry Unix time after which the offer cannot be accepted.
    function makeOffer(address collection, uint256 tokenId, uint256 expiry) external payable nonReentrant {
        if (msg.value == 0 || msg.value > type(uint96).max) revert InvalidPrice(msg.value);
        if (expiry <= block.timestamp || expiry > type(uint40).max) revert InvalidExpiry(expiry);
        if (_holder(collection, tokenId) == msg.sender) revert SellerCannotBid(msg.sender);
        uint256 previous = offers[collection][tokenId][msg.sender].amount;
        offers[collection][tokenId][msg.sender] = Offer(uint96(msg.value), uint40(expiry));
        emit OfferMade(collection, tokenId, msg.sender, msg.value, expiry);
        _pay(msg.sender, previous);
    }

    /// @notice Take back your offer's ETH (at any time, expired or not).
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function withdrawOffer(address collection, uint256 tokenId) external nonReentrant {
        uint256 amount = offers[collection][tokenId][msg.sender].amount;
        if (amount == 0) revert NoOffer(msg.sender);
        delete offers[collection][tokenId][msg.sender];
        emit OfferWithdrawn(collection, tokenId, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender);
    }

    /// @notice Accept `buyer`'s offer: the token goes to them (from your wallet, or from a fixed-price listing of
    /// yours, which ends), the royalty to its receiver and the rest to you.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    /// @param buyer Whose offer.
    /// @param amount The amount you saw; the call reverts if the offer now says otherwise.
    function acceptOffer(address collection, uint256 tokenId, address buyer, uint256 amount) external nonReentrant {
        Offer memory offer = offers[collection][tokenId][buyer];
        if (offer.amount == 0) revert NoOffer(buyer);
        if (offer.amount != amount) revert OfferChanged(offer.amount, amount);
        if (block.timestamp > offer.expiry) revert OfferExpired(offer.expiry);
        if (auctions[collection][tokenId].seller != address(0)) revert AlreadyForSale(collection, tokenId);
        address seller = listings[collection][tokenId].seller;
        address from = address(this);
        if (seller != address(0)) {
            _checkSeller(collection, seller);
            delete listings[collection][tokenId];
            emit Cancelled(collection, tokenId);
        } else {
            seller = from = _checkOwnerOrApproved(collection, tokenId);
            if (!_marketApproved(collection, tokenId, seller)) revert MarketNotApproved(collection, tokenId);
        }
        delete offers[collection][tokenId][buyer];
        (address receiver, uint256 royalty) = _royalty(collection, tokenId, amount);
        emit Sold(collection, tokenId, seller, buyer, amount, receiver, royalty);
        IERC721(collection).transferFrom(from, buyer, tokenId);
        _pay(receiver, royalty);
        _pay(seller, amount - royalty);
    }

    // -- credits -----------------------------------------------------------------------------------

    /// @notice Withdraw ETH credited after a failed push payment.
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender);
        emit Withdrawn(msg.sender, amount);
    }

    // -- views -------------------------------------------------------------------------------------

    /// @notice The listing of a token held in escrow here, or zero values.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function liveListing(address collection, uint256 tokenId) external view returns (address seller, uint256 price) {
        Listing memory listing = listings[collection][tokenId];
        if (listing.seller == address(0) || _ownerOf(collection, tokenId) != address(this)) return (address(0), 0);
        return (listing.seller, listing.price);
    }

    /// @notice The lowest bid the auction accepts now (the reserve, or the highest bid plus 10%); zero if none.
    /// @param collection The ERC-721 contract.
    /// @param tokenId The token.
    function minimumBid(address collection, uint256 tokenId) public view returns (uint256) {
        Auction memory auction = auctions[collection][tokenId];
        if (auction.seller == address(0)) return 0;
        if (auction.bidder == address(0)) return auction.amount;
        uint256 raise = auction.amount / MIN_RAISE_DIVISOR;
        return auction.amount + (raise == 0 ? 1 : raise);
    }

    // -- internals ---------------------------------------------------------------------------------

    function _checkVoucher(Voucher calldata voucher, bytes calldata signature) private view returns (address signer) {
        if (block.timestamp > voucher.expiry) revert VoucherExpired(voucher.expiry);
        // ECDSA.recover refuses high-s and malformed signatures: one voucher has one valid signature.
        signer = ECDSA.recover(voucherDigest(voucher), signature);
        address owner = ILazyMintable(voucher.collection).owner();
        if (signer != owner) revert InvalidSignature(signer, owner);
        if (voucherCancelled(signer, voucher.nonce)) revert VoucherCancelled(signer, voucher.nonce);
    }

    function _openAuction(address collection, uint256 tokenId, address seller, uint256 reserve, uint256 duration, uint256 royaltyBps) private {
        if (reserve == 0 || reserve > type(uint96).max) revert InvalidPrice(reserve);
        if (duration < MIN_DURATION || duration > MAX_DURATION) revert InvalidDuration(duration);
        if (listings[collection][tokenId].seller != address(0) || auctions[collection][tokenId].seller != address(0)) {
            revert AlreadyForSale(collection, tokenId);
        }
        auctions[collection][tokenId] = Auction(seller, 0, uint32(duration), uint16(royaltyBps), address(0), uint96(reserve));
        emit AuctionCreated(collection, tokenId, seller, reserve, duration);
    }

    function _bid(address collection, uint256 tokenId) private {
        Auction storage auction = _auction(collection, tokenId);
        if (msg.sender == auction.seller) revert SellerCannotBid(msg.sender);
        address previous = auction.bidder;
        uint256 refund = previous == address(0) ? 0 : auction.amount;
        uint256 end = auction.end;
        if (previous != address(0) && block.timestamp >= end) revert AuctionEnded(end);
        uint256 minimum = minimumBid(collection, tokenId);
        if (msg.value < minimum || msg.value > type(uint96).max) revert BidTooLow(minimum, msg.value);
        if (previous == address(0)) end = block.timestamp + auction.duration;
        else if (end - block.timestamp < EXTENSION) end = block.timestamp + EXTENSION;
        auction.end = uint40(end);
        auction.bidder = msg.sender;
        auction.amount = uint96(msg.value);
        emit BidPlaced(collection, tokenId, msg.sender, msg.value, end);
        _pay(previous, refund);
    }

    function _auction(address collection, uint256 tokenId) private view returns (Auction storage auction) {
        auction = auctions[collection][tokenId];
        if (auction.seller == address(0)) revert NoAuction(collection, tokenId);
    }

    function _listed(address collection, uint256 tokenId) private view returns (Listing storage listing) {
        listing = listings[collection][tokenId];
        if (listing.seller == address(0)) revert NotListed(collection, tokenId);
    }

    /// @dev Who holds the token for the market's purposes: the seller of a listing or auction here, else its owner.
    function _holder(address collection, uint256 tokenId) private view returns (address) {
        address seller = listings[collection][tokenId].seller;
        if (seller == address(0)) seller = auctions[collection][tokenId].seller;
        return seller != address(0) ? seller : IERC721(collection).ownerOf(tokenId);
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
