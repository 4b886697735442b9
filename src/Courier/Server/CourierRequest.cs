using System.Text;

namespace Courier.Server;

/// <summary>Serves one request: returns the reply's body frames, or throws to answer with an error (status 500).</summary>
public delegate ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> CourierHandler(CourierRequest request, CancellationToken cancellationToken);

/// <summary>A request as a handler sees it.</summary>
public sealed class CourierRequest
{
    /// <summary>
    /// A request for <paramref name="service"/> with <paramref name="frames"/> as its body, as a handler sees it: the
    /// server and the worker make these, and a test makes one to call a handler directly, without sockets
    /// (<c>new CourierRequest("greet", CourierBody.Text("world"))</c>). The frames are kept, not copied.
    /// </summary>
    public CourierRequest(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames)
        : this(service, frames, Protocol.CourierHeaders.Empty)
    {
    }

    /// <summary>A request with the <paramref name="headers"/> its caller sent (courier/5); for tests too.</summary>
    public CourierRequest(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames, Protocol.CourierHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentNullException.ThrowIfNull(headers);
        Service = service;
        Frames = frames;
        _headers = headers;
    }

    internal CourierRequest(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames, ReadOnlyMemory<byte> headerBlock)
    {
        Service = service;
        Frames = frames;
        _headerBlock = headerBlock;
    }

    private readonly ReadOnlyMemory<byte> _headerBlock;
    private Protocol.CourierHeaders? _headers;
    private Protocol.CourierHeaders? _replyHeaders;

    /// <summary>The headers its caller sent, read-only (empty when none, or from a client before courier/5).</summary>
    public Protocol.CourierHeaders Headers => _headers ??= Protocol.CourierHeaders.Decode(_headerBlock.Span); // decoded on first use only

    /// <summary>
    /// Headers for the reply: add to them in the handler and they go back with its body (to callers that speak
    /// courier/5; others get the body alone). Bounded as request headers are; adding past the bounds throws, and the
    /// request is answered 500.
    /// </summary>
    public Protocol.CourierHeaders ReplyHeaders => _replyHeaders ??= new Protocol.CourierHeaders();

    /// <summary>The reply headers, if the handler set any: null otherwise, without making an empty collection.</summary>
    internal Protocol.CourierHeaders? ReplyHeadersIfAny => _replyHeaders is { Count: > 0 } headers ? headers : null;

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>
    /// The body frames, as the client sent them. A server or worker on the native transport lends a frame of 8 KiB or more as
    /// libzmq received it instead of copying it: such a frame is the handler's until its reply has been sent (returning
    /// it as the reply, as an echo does, is fine), and reading it after that throws <see cref="ObjectDisposedException"/>.
    /// Copy (<c>ToArray()</c>) what the handler keeps longer.
    /// </summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Frames { get; }

    /// <summary>The first body frame, or empty.</summary>
    public ReadOnlyMemory<byte> Body => Frames.Count > 0 ? Frames[0] : ReadOnlyMemory<byte>.Empty;

    /// <summary>The first body frame as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body.Span);
}
