using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>What a <see cref="ClientFrontEnd"/> hands decoded, checked requests to: a server's handlers, a broker's queues.</summary>
internal interface IRequestTarget
{
    /// <summary>Why nothing here serves the request (answered 404), or null.</summary>
    string? NotServed(InboundRequest request);

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
