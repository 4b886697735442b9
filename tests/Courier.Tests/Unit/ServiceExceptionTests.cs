using Courier.Protocol;
using Courier.Server;

namespace Courier.Tests.Unit;

/// <summary>The statuses a handler may answer on purpose: any error but those that tell a broker or caller whether a request ran.</summary>
public sealed class ServiceExceptionTests
{
    [Theory]
    [InlineData(CourierStatus.TooManyRequests)] // a broker would give the request to another worker, which runs it again
    [InlineData(CourierStatus.Unavailable)] // the same, and the broker would take the worker for stopping
    [InlineData(CourierStatus.DeadlineExceeded)]
    [InlineData(CourierStatus.OutcomeUnknown)]
    [InlineData(399)]
    [InlineData(600)]
    public void A_handler_cannot_answer_a_status_that_says_whether_its_request_ran(int status)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new CourierServiceException(status, "no"));
        Assert.Equal("statusCode", error.ParamName);
    }

    [Theory]
    [InlineData(CourierStatus.BadRequest)]
    [InlineData(CourierStatus.NotFound)]
    [InlineData(CourierStatus.PoisonRequest)]
    [InlineData(CourierStatus.ServerError)]
    [InlineData(599)]
    public void A_handler_answers_any_other_error_status_as_it_chose(int status)
    {
        Assert.Equal(status, new CourierServiceException(status, "chosen").StatusCode);
    }
}
