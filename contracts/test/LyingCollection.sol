// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test double only: `mint` has latentmint's selector and arguments, but tokenURI ignores the digest the
/// calldata carried and names the constructor's URI. An index that trusted calldata without knowing the code
/// would file the wrong metadata under these tokens.
contract LyingCollection {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    mapping(uint256 => address) public ownerOf;
    string private _uri;

    constructor(string memory uri) {
        _uri = uri;
    }

    function mint(address to, bytes32 contentHash, bytes32) external returns (uint256 tokenId) {
        tokenId = uint256(contentHash);
        ownerOf[tokenId] = to;
        emit Transfer(address(0), to, tokenId);
    }

    function tokenURI(uint256) external view returns (string memory) {
        return _uri;
    }
}
