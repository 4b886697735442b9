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
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(frames);
        Service = service;
        Frames = frames;
    }

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>The body frames, as the client sent them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Frames { get; }

    /// <summary>The first body frame, or empty.</summary>
    public ReadOnlyMemory<byte> Body => Frames.Count > 0 ? Frames[0] : ReadOnlyMemory<byte>.Empty;

    /// <summary>The first body frame as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body.Span);
}
