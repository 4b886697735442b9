using System.Text;

namespace Courier.Client;

/// <summary>
/// What code that sends requests needs of a <see cref="CourierClient"/>: take this interface, and a test can hand in a
/// fake. A fake implements the multi-frame <see cref="RequestAsync(string, ReadOnlyMemory{byte}[], CancellationToken)"/>
/// and <see cref="IAsyncDisposable.DisposeAsync"/>; the one-frame and text overloads default to it.
/// </summary>
public interface ICourierClient : IAsyncDisposable
{
    // RS0026 warns of new overloads with optional parameters next to existing ones, where a call could change meaning.
    // These are CourierClient's shipped overloads, all three at once, with the cancellation token last and optional.
#pragma warning disable RS0026
    /// <summary>
    /// Sends a multi-frame request to <paramref name="service"/> and awaits its reply. The frames' memory is kept
    /// (not copied) until the request completes, for resends: do not change it meanwhile.
    /// </summary>
    /// <exception cref="CourierTimeoutException">No reply after every attempt, or past the deadline.</exception>
    /// <exception cref="CourierRemoteException">The peer answered with an error status.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte>[] frames, CancellationToken cancellationToken = default);

    /// <summary>Sends a one-frame request to <paramref name="service"/> and awaits its reply.</summary>
    Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        => RequestAsync(service, [body], cancellationToken);

    /// <summary>Sends a UTF-8 text request to <paramref name="service"/> and awaits its reply.</summary>
    Task<CourierReply> RequestAsync(string service, string body, CancellationToken cancellationToken = default)
        => RequestAsync(service, [Encoding.UTF8.GetBytes(body ?? throw new ArgumentNullException(nameof(body)))], cancellationToken);

    /// <summary>
    /// Sends a multi-frame request with <paramref name="options"/> (headers, idempotent, deadline) and awaits its reply.
    /// A fake that does not implement it gets the request without its options.
    /// </summary>
    Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte>[] frames, CourierRequestOptions options, CancellationToken cancellationToken = default)
        => RequestAsync(service, frames, cancellationToken);
#pragma warning restore RS0026
}
