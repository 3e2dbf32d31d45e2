// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RoyaltySplitter
/// @notice Receives royalties and lets each payee withdraw their fixed share: the artist and, if the artist
/// chooses, the people whose photos trained the model. Payees and shares never change after deployment.
/// @dev Pull payments: nobody's failing receiver can block anyone else's share.
contract RoyaltySplitter {
    /// @notice No payees, or a payee list and share list of different lengths.
    error InvalidPayees();
    /// @notice A payee is the zero address, has zero shares, or appears twice.
    error InvalidPayee(address payee);
    /// @notice `account` has nothing to withdraw.
    error NothingDue(address account);
    /// @notice Sending ETH to `account` failed.
    error TransferFailed(address account);

    /// @notice ETH arrived (a royalty).
    event PaymentReceived(address indexed from, uint256 amount);
    /// @notice `to` withdrew `amount`.
    event PaymentReleased(address indexed to, uint256 amount);

    /// @notice Sum of all shares.
    uint256 public immutable totalShares;
    /// @notice Total ETH withdrawn so far.
    uint256 public totalReleased;
    /// @notice Shares of each payee.
    mapping(address account => uint256) public shares;
    /// @notice ETH withdrawn so far by each payee.
    mapping(address account => uint256) public released;
    address[] private _payees;

    /// @param payees_ Who is paid.
    /// @param shares_ Their shares, in the same order (any unit: 70 and 30, or 7000 and 3000).
    constructor(address[] memory payees_, uint256[] memory shares_) {
        if (payees_.length == 0 || payees_.length != shares_.length) revert InvalidPayees();
        uint256 total;
        for (uint256 i; i < payees_.length; ++i) {
            address payee = payees_[i];
            if (payee == address(0) || shares_[i] == 0 || shares[payee] != 0) revert InvalidPayee(payee);
            shares[payee] = shares_[i];
            _payees.push(payee);
            total += shares_[i];
        }
        totalShares = total;
    }

    /// @notice Accept royalties.
    receive() external payable {
        emit PaymentReceived(msg.sender, msg.value);
    }

    /// @notice Every payee, in deployment order.
    function payees() external view returns (address[] memory) {
        return _payees;
    }

    /// @notice What `account` can withdraw now.
    /// @param account A payee.
    function releasable(address account) public view returns (uint256) {
        uint256 received = address(this).balance + totalReleased;
        return (received * shares[account]) / totalShares - released[account];
    }

    /// @notice Send `account` its due share (anyone may call; the ETH goes to the payee).
    /// @param account A payee.
    function release(address payable account) external {
        uint256 due = releasable(account);
        if (due == 0) revert NothingDue(account);
        released[account] += due;
        totalReleased += due;
        (bool ok,) = account.call{value: due}("");
        if (!ok) revert TransferFailed(account);
        emit PaymentReleased(account, due);
    }
}
