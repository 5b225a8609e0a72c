// The public headers compile and link from C++.
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_server.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/requiretls_replan.h>

int main()
{
	return ms_rtls_server_advertise(1, 1) ? 0 : 1;
}
