using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>What a <see cref="ClientFrontEnd"/> hands decoded, checked requests to: a server's handlers, a broker's queues.</summary>
internal interface IRequestTarget
{
    /// <summary>
    /// A courier/5 attempt of a request the target already took: joined to the run in progress (its reply goes to this
    /// newest attempt), or given the answer the request had. True when it was either, and the front end is done with it.
    /// Asked before any other check: a repeat must never be refused (404, 503) while its first attempt may run.
    /// </summary>
    bool JoinedRepeat(InboundRequest request);

    /// <summary>Why nothing here serves the request (answered 404), or null.</summary>
    string? NotServed(InboundRequest request);

    /// <summary>
    /// Whether <paramref name="service"/> is one this target serves or keeps (a broker's known services): only such a
    /// name may be a metric tag value, since any other comes from a peer and is unbounded.
    /// </summary>
    bool Keeps(string service);

    /// <summary>Why new work is refused right now (answered 503), or null.</summary>
    string? Refusal { get; }

    /// <summary>The answer to an 8/MMI query other than <c>mmi.courier</c>; null answers 501.</summary>
    IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument);

    /// <summary>
    /// Takes the request: it is the target's until it calls <see cref="ClientFrontEnd.Reply"/> or
    /// <see cref="ClientFrontEnd.Fail"/> for it. Otherwise returns why not (answered 503), and the front end keeps it.
    /// </summary>
    string? TryAccept(InboundRequest request);

    /// <summary>A courier/5 CANCEL: the caller of request <paramref name="key"/> gave up (docs/protocol.md §8).</summary>
    void Cancel(RequestKey key);
}
