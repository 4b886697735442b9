using Courier.Server;

namespace Courier.Extensions.Hosting;

/// <summary>
/// A handler class that dependency injection makes: mapped with <c>MapHandler&lt;THandler&gt;(service)</c>, it is
/// resolved from a fresh scope for each request (so it may take scoped services such as a DbContext), and the scope is
/// disposed when the request is answered. Throw <see cref="CourierServiceException"/> to answer a chosen status.
/// </summary>
public interface ICourierHandler
{
    /// <summary>Serves one request: returns the reply's body frames.</summary>
    ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> HandleAsync(CourierRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// A typed handler class that dependency injection makes, one per request in its own scope: it takes a
/// <typeparamref name="TRequest"/> read from the request's JSON and returns a <typeparamref name="TReply"/> written as
/// JSON (<see cref="Json.CourierJson"/>). Mapped with <c>MapHandler&lt;THandler, TRequest, TReply&gt;(service, …)</c>.
/// </summary>
public interface ICourierHandler<in TRequest, TReply>
{
    /// <summary>Serves one request.</summary>
    ValueTask<TReply> HandleAsync(TRequest request, CancellationToken cancellationToken);
}
