// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {Ownable} from "solady/src/auth/Ownable.sol";

/// @notice Benchmark reference only: the same mint as LatentmintCollection (content-hash id, one digest slot)
/// on Solady's assembly ERC-721, without royalties.
contract SoladyReference is ERC721, Ownable {
    error AlreadyMinted(uint256 tokenId);

    mapping(uint256 => bytes32) private _metadata;

    constructor(address artist) {
        _initializeOwner(artist);
    }

    function name() public pure override returns (string memory) {
        return "Reference";
    }

    function symbol() public pure override returns (string memory) {
        return "REF";
    }

    function tokenURI(uint256) public pure override returns (string memory) {
        return "";
    }

    /// @notice Mint `contentHash` as a token id.
    function mint(address to, bytes32 contentHash, bytes32 digest) external onlyOwner returns (uint256 tokenId) {
        tokenId = uint256(contentHash);
        if (_exists(tokenId)) revert AlreadyMinted(tokenId);
        _metadata[tokenId] = digest;
        _mint(to, tokenId);
    }
}
