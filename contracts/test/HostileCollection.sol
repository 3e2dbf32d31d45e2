// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test double only: an ERC-721 look-alike whose tokenURI points at a path (`ipfs:///dev/zero`) and a
/// 300-character "CID", as a hostile collection or node could; verification must not read either.
contract HostileCollection {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    mapping(uint256 => address) public ownerOf;
    string private _uri;

    function mint(address to, uint256 tokenId, string calldata uri) external {
        ownerOf[tokenId] = to;
        _uri = uri;
        emit Transfer(address(0), to, tokenId);
    }

    function tokenURI(uint256) external view returns (string memory) {
        return _uri;
    }

    function supportsInterface(bytes4) external pure returns (bool) {
        return true;
    }
}
