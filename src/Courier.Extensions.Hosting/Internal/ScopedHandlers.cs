using Courier.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Extensions.Hosting.Internal;

/// <summary>Handlers that resolve their class from a new scope per request and dispose the scope when done.</summary>
internal static class ScopedHandlers
{
    public static CourierHandler Frames<THandler>(IServiceProvider services)
        where THandler : class, ICourierHandler
    {
        var scopes = services.GetRequiredService<IServiceScopeFactory>();
        return async (request, cancellationToken) =>
        {
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                return await scope.ServiceProvider.GetRequiredService<THandler>().HandleAsync(request, cancellationToken).ConfigureAwait(false);
            }
        };
    }

    public static Json.CourierHandler<TRequest, TReply> Typed<THandler, TRequest, TReply>(IServiceProvider services)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        var scopes = services.GetRequiredService<IServiceScopeFactory>();
        return async (request, cancellationToken) =>
        {
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                return await scope.ServiceProvider.GetRequiredService<THandler>().HandleAsync(request, cancellationToken).ConfigureAwait(false);
            }
        };
    }
}
