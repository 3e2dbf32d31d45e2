// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Benchmark baseline only: the usual OpenZeppelin way (a URI string per token, ERC-2981, no Enumerable).
contract OZURIStorageReference is ERC721URIStorage, ERC2981, Ownable {
    uint256 private _next;

    constructor(address artist) ERC721("Reference", "REF") Ownable(artist) {
        _setDefaultRoyalty(artist, 750);
    }

    /// @notice Mint the next id with `uri`.
    function mint(address to, string calldata uri) external onlyOwner returns (uint256 tokenId) {
        tokenId = ++_next;
        _mint(to, tokenId);
        _setTokenURI(tokenId, uri);
    }

    /// @notice Mint one token per URI.
    function mintBatch(address to, string[] calldata uris) external onlyOwner {
        for (uint256 i; i < uris.length; ++i) {
            uint256 tokenId = ++_next;
            _mint(to, tokenId);
            _setTokenURI(tokenId, uris[i]);
        }
    }

    function tokenURI(uint256 tokenId) public view override(ERC721URIStorage) returns (string memory) {
        return ERC721URIStorage.tokenURI(tokenId);
    }

    function supportsInterface(bytes4 id) public view override(ERC721URIStorage, ERC2981) returns (bool) {
        return ERC721URIStorage.supportsInterface(id) || ERC2981.supportsInterface(id);
    }
}
