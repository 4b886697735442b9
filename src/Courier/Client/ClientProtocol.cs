namespace Courier.Client;

/// <summary>Which client protocol a <see cref="CourierClient"/> speaks on a connection.</summary>
public enum ClientProtocol
{
    /// <summary>
    /// Ask each new connection's peer (8/MMI service <c>mmi.courier</c>) whether it speaks Courier; pipeline if it does
    /// (and batch, if it answers <c>courier/3</c>), else fall back to plain 7/MDP with one request at a time. Courier
    /// extensions never reach a peer that did not answer.
    /// </summary>
    Auto,

    /// <summary>
    /// Courier framing without asking: pipelined, status in every reply. Only for Courier servers and brokers. Requests
    /// are not batched, since only the probe's answer says whether the peer takes batches, and carry none of courier/5's
    /// request metadata either (client identity, idempotent flag, time budget, headers and trace context; no CANCEL): a
    /// resend after an attempt's timeout may run an at-most-once handler again, as with a peer from before courier/5.
    /// Use <see cref="Auto"/> for the guarantees of docs/guide.md.
    /// </summary>
    Courier,

    /// <summary>Plain 7/MDP, one request at a time per connection: for any third-party 7/MDP broker.</summary>
    Mdp,
}
