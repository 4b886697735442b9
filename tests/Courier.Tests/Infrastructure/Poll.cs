namespace Courier.Tests.Infrastructure;

/// <summary>Waits for a condition by polling, with a generous timeout, instead of sleeping a fixed time.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        var limit = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > limit)
            {
                throw new TimeoutException($"Condition not met in time: {what ?? "(unnamed)"}");
            }

            await Task.Delay(20);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? what = null)
    {
        var limit = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > limit)
            {
                throw new TimeoutException($"Condition not met in time: {what ?? "(unnamed)"}");
            }

            await Task.Delay(50);
        }
    }
}
