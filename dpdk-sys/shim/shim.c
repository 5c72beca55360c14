#include "shim.h"

int vtepd_rte_errno(void)
{
	return rte_errno;
}
