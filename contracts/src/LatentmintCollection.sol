// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title LatentmintCollection
/// @notice One artist's collection of artworks made with a model they trained. A token's id is the
/// sha256 of the artwork file, so the same bytes can never be minted twice in the collection and anyone
/// holding a file can find its token. The token's metadata is a JSON document on IPFS; the contract keeps
/// only the 32-byte sha2-256 digest of its CID and renders `ipfs://<CIDv1>` on demand.
/// @dev One new storage slot per mint besides ERC-721's owner and balance: gas matters to artists.
contract LatentmintCollection is ERC721, ERC2981, Ownable, IERC4906 {
    /// @notice The file with this sha256 is already token `tokenId` of this collection.
    error AlreadyMinted(uint256 tokenId);
    /// @notice The batch's arrays differ in length.
    error LengthMismatch(uint256 contentHashes, uint256 metadataDigests);
    /// @notice A metadata digest of zero cannot name a document.
    error EmptyMetadata();
    /// @notice Metadata can only be corrected while the creator still holds the token.
    error MetadataFrozen(uint256 tokenId);
    /// @notice Only the market named at deployment mints from vouchers.
    error NotMarket(address account);

    /// @notice ERC-7572: the collection-level metadata changed.
    event ContractURIUpdated();
    /// @notice The royalty for one token or for the whole collection (`tokenId` 0 with `allTokens`) changed.
    event RoyaltyUpdated(uint256 indexed tokenId, bool allTokens, address receiver, uint96 basisPoints);

    /// @notice The artist who created the collection (its first owner); recorded in every certificate.
    address public immutable creator;
    /// @notice The market that may mint a token whose voucher the owner signed (lazy minting); zero for none.
    /// It checks the owner's EIP-712 signature and takes the buyer's payment before it calls `mintFromVoucher`.
    address public immutable market;

    mapping(uint256 tokenId => bytes32 digest) private _metadata;
    string private _contractURI;

    bytes private constant _BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

    /// @param name_ Collection name.
    /// @param symbol_ Collection symbol.
    /// @param artist The creator and owner: the only account that mints.
    /// @param royaltyReceiver Who receives royalties (the artist, or a RoyaltySplitter).
    /// @param royaltyBasisPoints Royalty in basis points of the sale price (750 = 7.5%).
    /// @param contractURI_ ERC-7572 collection metadata URI.
    /// @param market_ The LatentmintMarket that redeems the owner's lazy-mint vouchers (zero: no lazy minting).
    constructor(
        string memory name_,
        string memory symbol_,
        address artist,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string memory contractURI_,
        address market_
    ) ERC721(name_, symbol_) Ownable(artist) {
        creator = artist;
        market = market_;
        _setDefaultRoyalty(royaltyReceiver, royaltyBasisPoints);
        _contractURI = contractURI_;
        emit RoyaltyUpdated(0, true, royaltyReceiver, royaltyBasisPoints);
    }

    /// @notice Mint the artwork whose file has sha256 `contentHash` to `to`.
    /// @param to The first holder (usually the artist).
    /// @param contentHash sha256 of the artwork file; becomes the token id.
    /// @param digest sha2-256 digest of the metadata JSON's CIDv1 (raw codec).
    /// @return tokenId `uint256(contentHash)`.
    function mint(address to, bytes32 contentHash, bytes32 digest) external onlyOwner returns (uint256 tokenId) {
        return _mintOne(to, contentHash, digest);
    }

    /// @notice Mint several artworks to `to` in one transaction; reverts as a whole if any was minted before.
    /// @param to The first holder of every token.
    /// @param contentHashes sha256 of each artwork file.
    /// @param metadataDigests The metadata CID digest of each, in the same order.
    function mintBatch(address to, bytes32[] calldata contentHashes, bytes32[] calldata metadataDigests) external onlyOwner {
        uint256 n = contentHashes.length;
        if (n != metadataDigests.length) revert LengthMismatch(n, metadataDigests.length);
        for (uint256 i; i < n; ++i) {
            _mintOne(to, contentHashes[i], metadataDigests[i]);
        }
    }

    /// @notice Mint a token the owner sold by voucher; only `market` calls it, after checking the owner's signature.
    /// @param to The buyer, or the market's escrow for an auction.
    /// @param tokenId sha256 of the artwork file.
    /// @param digest The metadata CID digest the voucher names.
    function mintFromVoucher(address to, uint256 tokenId, bytes32 digest) external {
        if (msg.sender != market || market == address(0)) revert NotMarket(msg.sender);
        _mintOne(to, bytes32(tokenId), digest);
    }

    /// @notice Correct a token's metadata while the creator still holds it (emits EIP-4906 MetadataUpdate).
    /// @param tokenId The token.
    /// @param digest The new metadata CID digest.
    function updateMetadata(uint256 tokenId, bytes32 digest) external onlyOwner {
        if (digest == bytes32(0)) revert EmptyMetadata();
        if (_requireOwned(tokenId) != owner()) revert MetadataFrozen(tokenId);
        _metadata[tokenId] = digest;
        emit MetadataUpdate(tokenId);
    }

    /// @notice Set the royalty for every token without its own.
    /// @param receiver Who is paid.
    /// @param basisPoints Share of the sale price, at most 10000.
    function setDefaultRoyalty(address receiver, uint96 basisPoints) external onlyOwner {
        _setDefaultRoyalty(receiver, basisPoints);
        emit RoyaltyUpdated(0, true, receiver, basisPoints);
    }

    /// @notice Set one token's royalty.
    /// @param tokenId The token (it must exist).
    /// @param receiver Who is paid.
    /// @param basisPoints Share of the sale price, at most 10000.
    function setTokenRoyalty(uint256 tokenId, address receiver, uint96 basisPoints) external onlyOwner {
        _requireOwned(tokenId);
        _setTokenRoyalty(tokenId, receiver, basisPoints);
        emit RoyaltyUpdated(tokenId, false, receiver, basisPoints);
    }

    /// @notice Set the ERC-7572 collection metadata URI.
    /// @param uri The new URI.
    function setContractURI(string calldata uri) external onlyOwner {
        _contractURI = uri;
        emit ContractURIUpdated();
    }

    /// @notice ERC-7572 collection metadata.
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    /// @notice The sha2-256 digest of the token's metadata CID.
    /// @param tokenId The token (it must exist).
    function metadataDigest(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return _metadata[tokenId];
    }

    /// @notice `ipfs://` followed by the metadata's CIDv1 (raw codec, sha2-256, base32).
    /// @param tokenId The token (it must exist).
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", _cidV1Raw(_metadata[tokenId]));
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981, IERC165) returns (bool) {
        return interfaceId == bytes4(0x49064906) || ERC721.supportsInterface(interfaceId) || ERC2981.supportsInterface(interfaceId);
    }

    function _mintOne(address to, bytes32 contentHash, bytes32 digest) private returns (uint256 tokenId) {
        if (digest == bytes32(0)) revert EmptyMetadata();
        tokenId = uint256(contentHash);
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        _metadata[tokenId] = digest;
        // _mint's own body, with our error: one read of the owner slot serves as the duplicate guard.
        if (_update(to, tokenId, address(0)) != address(0)) revert AlreadyMinted(tokenId);
    }

    /// @dev "b" + base32 of 0x01 (CIDv1) 0x55 (raw) 0x12 (sha2-256) 0x20 (32 bytes) + digest: 59 characters.
    function _cidV1Raw(bytes32 digest) private pure returns (string memory) {
        bytes memory input = abi.encodePacked(bytes4(0x01551220), digest);
        bytes memory out = new bytes(59);
        out[0] = "b";
        uint256 buffer;
        uint256 bits;
        uint256 j = 1;
        for (uint256 i; i < 36; ++i) {
            buffer = (buffer << 8) | uint8(input[i]);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                out[j++] = _BASE32[(buffer >> bits) & 31];
            }
        }
        if (bits > 0) out[j] = _BASE32[(buffer << (5 - bits)) & 31];
        return string(out);
    }
}
